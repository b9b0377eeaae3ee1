// Sends three records with @fluent-org/logger over the shared_key handshake, asking for acks,
// and exits 0 once every record was acknowledged (1 on any error).
//   node fluent_send.js HOST PORT SHARED_KEY RUN_ID
const { FluentClient } = require("@fluent-org/logger");

const [host, port, sharedKey, runId] = process.argv.slice(2);
const logger = new FluentClient("node", {
  socket: { host, port: Number(port), timeout: 5000 },
  security: { clientHostname: "node-client.test", sharedKey },
  ack: { ackTimeout: 5000 },
  eventMode: "Forward",
});

async function main() {
  const sent = [0, 1, 2].map((n) => logger.emit("app", { message: `${runId} n=${n}`, n }));
  await Promise.all(sent);
  await logger.disconnect();
}

const deadline = setTimeout(() => {
  console.error("no acknowledgement within 20 s");
  process.exit(1);
}, 20000);
main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
