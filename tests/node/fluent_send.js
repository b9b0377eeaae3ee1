// Sends three records with @fluent-org/logger over the shared_key handshake, asking for acks,
// and exits 0 once every record was acknowledged (1 on any error, or when no acknowledgement
// came within FLUENT_SEND_TIMEOUT_MS, default 20000: a refused handshake ends that way).
//   node fluent_send.js HOST PORT SHARED_KEY RUN_ID [USERNAME PASSWORD]
const { FluentClient } = require("@fluent-org/logger");

const [host, port, sharedKey, runId, username, password] = process.argv.slice(2);
const security = { clientHostname: "node-client.test", sharedKey };
if (username !== undefined) {
  security.username = username;
  security.password = password;
}
const logger = new FluentClient("node", {
  socket: { host, port: Number(port), timeout: 5000 },
  security,
  ack: { ackTimeout: 5000 },
  eventMode: "Forward",
});

async function main() {
  const sent = [0, 1, 2].map((n) => logger.emit("app", { message: `${runId} n=${n}`, n }));
  await Promise.all(sent);
  await logger.disconnect();
}

const timeoutMs = Number(process.env.FLUENT_SEND_TIMEOUT_MS || 20000);
const deadline = setTimeout(() => {
  console.error(`no acknowledgement within ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);
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
