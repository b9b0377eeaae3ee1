//! Server-agent reports and incoming requests (heartbeats): rows in ClickHouse, events in
//! Redis, unknown keys refused, and a Redis outage that delays events without losing any.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tests::{
    AGENT_KEY, AGENT_MONITOR, HEARTBEAT_KEY, HEARTBEAT_MONITOR, PROJECT, PROJECT_2, TestEngine,
    free_port, redis_stream, request, wait_until,
};

/// A report exactly as OneUptime's infrastructure agent sends it.
fn agent_report() -> Value {
    json!({"serverMonitorResponse": {
        "secretKey": AGENT_KEY,
        "hostname": "db-1.internal",
        "requestReceivedAt": "2026-11-24T10:00:00.000Z",
        "onlyCheckRequestReceivedAt": false,
        "basicInfrastructureMetrics": {
            "cpuMetrics": {"percentUsed": 37.5, "cores": 4, "perCorePercent": [10.0, 20.5, 50.0, 69.5],
                           "timeUserPercent": 25.0, "timeSystemPercent": 10.0, "timeIdlePercent": 62.5,
                           "timeIoWaitPercent": 2.5},
            "memoryMetrics": {"total": 17179869184u64, "free": 4294967296u64, "used": 12884901888u64,
                              "percentUsed": 75.0, "percentFree": 25.0, "available": 5368709120u64,
                              "swapTotal": 2147483648u64, "swapUsed": 1073741824u64, "swapFree": 1073741824u64,
                              "swapPercentUsed": 50.0},
            "diskMetrics": [
                {"total": 107374182400u64, "free": 32212254720u64, "used": 75161927680u64, "diskPath": "/",
                 "percentUsed": 70.0, "percentFree": 30.0, "device": "/dev/sda1", "fstype": "ext4",
                 "readBytes": 1000, "writeBytes": 2000},
                {"total": 1000, "free": 900, "used": 100, "diskPath": "/data",
                 "percentUsed": 10.0, "percentFree": 90.0}
            ],
            "networkMetrics": {"interfaces": [{"interfaceName": "eth0", "bytesReceived": 123456, "bytesSent": 654321,
                                "packetsReceived": 100, "packetsSent": 200, "errorsIn": 0, "errorsOut": 1,
                                "dropsIn": 2, "dropsOut": 3}],
                               "totalBytesReceived": 123456, "totalBytesSent": 654321,
                               "connectionsEstablished": 42},
            "loadMetrics": {"load1": 1.5, "load5": 1.25, "load15": 0.75},
            "hostMetrics": {"platform": "debian", "platformFamily": "debian", "platformVersion": "12.5",
                            "kernelVersion": "6.1.0-18-amd64", "kernelArch": "x86_64", "os": "linux",
                            "uptimeSeconds": 86400, "bootTime": 1763900000, "hostId": "abc-123",
                            "virtualizationSystem": "kvm", "virtualizationRole": "guest", "numProcesses": 321}
        },
        "processes": [
            {"pid": 1, "name": "systemd", "command": "/sbin/init", "cpuPercent": 0.1, "memoryBytes": 8000000},
            {"pid": 1234, "name": "postgres", "command": "postgres -D /var/lib/postgresql",
             "cpuPercent": 33.0, "memoryBytes": 500000000, "memoryPercent": 3.0, "status": "S",
             "threads": 8, "createTimeMs": 1763900001000u64, "username": "postgres"}
        ]
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reports_become_server_metrics_rows_and_one_event() {
    let engine = TestEngine::start("agent").await;
    let post = reqwest::Method::POST;
    let json_type = [("content-type", "application/json")];

    let verify = |key: &str| engine.http_url(&format!("/server-monitor/secret-key/verify/{key}"));
    assert_eq!(
        request(reqwest::Method::GET, verify(AGENT_KEY), &[], String::new()).await,
        (200, json!({}))
    );
    let (status, answer) = request(reqwest::Method::GET, verify("nope"), &[], String::new()).await;
    assert_eq!(
        (status, answer),
        (404, json!({"message": "unknown server-agent key"}))
    );

    let url = engine.http_url(&format!("/server-monitor/response/ingest/{AGENT_KEY}"));
    let (status, answer) = request(
        post.clone(),
        url.clone(),
        &json_type,
        agent_report().to_string(),
    )
    .await;
    assert_eq!((status, answer), (200, json!({})));

    // Refused: unknown key, not JSON, wrong type, not a report — none stores anything.
    let unknown = engine.http_url("/server-monitor/response/ingest/not-a-key");
    assert_eq!(
        request(
            post.clone(),
            unknown,
            &json_type,
            agent_report().to_string()
        )
        .await
        .0,
        404
    );
    for (body, words) in [
        ("{\"serverMonitorResponse\": ".to_owned(), "invalid JSON"),
        (json!({"serverMonitorResponse": {"basicInfrastructureMetrics": {"cpuMetrics": {"percentUsed": "high"}}}}).to_string(), "invalid server-agent report"),
        (json!({"hello": "world"}).to_string(), "not a server-agent report"),
        ("[1,2]".to_owned(), "JSON object"),
    ] {
        let (status, answer) = request(post.clone(), url.clone(), &json_type, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(words), "{body}: {answer}");
    }

    let rows = engine
        .rows(
            "server_metrics",
            "project_id, monitor_id, hostname, name, subject, value, unit, attributes_keys, \
             attributes_values, time_unix_nano",
            "ORDER BY name, subject",
        )
        .await;
    let value = |name: &str, subject: &str| -> &Value {
        rows.iter()
            .find(|r| r["name"] == name && r["subject"] == subject)
            .unwrap_or_else(|| panic!("row {name}/{subject} in {rows:#?}"))
    };
    assert!(rows.iter().all(|r| r["project_id"] == PROJECT
        && r["monitor_id"] == AGENT_MONITOR
        && r["hostname"] == "db-1.internal"));
    let receive_time = rows[0]["time_unix_nano"].as_u64().unwrap();
    assert!(rows.iter().all(|r| r["time_unix_nano"] == receive_time));
    assert_eq!(value("cpu.percent_used", "")["value"], 37.5);
    assert_eq!(value("cpu.percent_used", "")["unit"], "percent");
    assert_eq!(value("cpu.cores", "")["value"], 4.0);
    assert_eq!(value("cpu.time_iowait_percent", "")["value"], 2.5);
    for (core, v) in [("0", 10.0), ("1", 20.5), ("2", 50.0), ("3", 69.5)] {
        assert_eq!(value("cpu.core.percent_used", core)["value"], v);
    }
    assert_eq!(value("memory.used_bytes", "")["value"], 12884901888.0);
    assert_eq!(value("memory.used_bytes", "")["unit"], "bytes");
    assert_eq!(value("memory.available_bytes", "")["value"], 5368709120.0);
    assert_eq!(value("swap.percent_used", "")["value"], 50.0);
    let root = value("disk.percent_used", "/");
    assert_eq!(root["value"], 70.0);
    assert_eq!(root["attributes_keys"], json!(["device", "fstype"]));
    assert_eq!(root["attributes_values"], json!(["/dev/sda1", "ext4"]));
    assert_eq!(value("disk.read_bytes", "/")["value"], 1000.0);
    assert_eq!(value("disk.used_bytes", "/data")["value"], 100.0);
    assert_eq!(value("network.bytes_received", "eth0")["value"], 123456.0);
    assert_eq!(value("network.drops_out", "eth0")["value"], 3.0);
    assert_eq!(value("network.bytes_sent", "")["value"], 654321.0);
    assert_eq!(value("network.connections_established", "")["value"], 42.0);
    assert_eq!(value("load.1m", "")["value"], 1.5);
    assert_eq!(value("load.15m", "")["value"], 0.75);
    let host = value("host.uptime_seconds", "");
    assert_eq!(host["value"], 86400.0);
    let facts: Vec<(&str, &str)> = host["attributes_keys"]
        .as_array()
        .unwrap()
        .iter()
        .zip(host["attributes_values"].as_array().unwrap())
        .map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap()))
        .collect();
    for fact in [
        ("platform", "debian"),
        ("kernel_version", "6.1.0-18-amd64"),
        ("boot_time", "1763900000"),
    ] {
        assert!(facts.contains(&fact), "{fact:?} in {facts:?}");
    }
    assert_eq!(value("host.processes", "")["value"], 321.0);
    let pg = value("process.cpu_percent", "1234");
    assert_eq!(pg["value"], 33.0);
    assert_eq!(pg["attributes_values"][0], "postgres");
    assert_eq!(value("process.memory_bytes", "1234")["value"], 500000000.0);
    assert_eq!(value("process.cpu_percent", "1")["value"], 0.1);
    // Nothing sent, nothing stored.
    assert!(rows.iter().all(|r| r["name"] != "cpu.time_steal_percent"));

    let events = engine.events("server_report", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["project_id"], PROJECT);
    assert_eq!(event["monitor_id"], AGENT_MONITOR);
    assert_eq!(event["hostname"], "db-1.internal");
    assert_eq!(event["event_id"].len(), 32);
    assert_eq!(event["received_at_unix_nano"], receive_time.to_string());
    let report: Value = serde_json::from_str(&event["report"]).unwrap();
    let mut expected = agent_report()["serverMonitorResponse"].clone();
    // The secret key never leaves the engine.
    expected.as_object_mut().unwrap().remove("secretKey");
    assert_eq!(report, expected);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_by_get_post_and_head_are_recorded_with_events() {
    let engine = TestEngine::start("heartbeat").await;
    let url = |path: &str| engine.http_url(path);
    let (status, answer) = request(
        reqwest::Method::GET,
        url(&format!("/heartbeat/{HEARTBEAT_KEY}?status=ok")),
        &[("authorization", "Bearer hunter2"), ("x-custom", "one")],
        String::new(),
    )
    .await;
    assert_eq!((status, answer), (200, json!({})));
    let body = json!({"status": "error", "detail": "backup failed"}).to_string();
    let (status, _) = request(
        reqwest::Method::POST,
        url(&format!("/incoming-request/{HEARTBEAT_KEY}")),
        &[
            ("content-type", "application/json"),
            ("oneuptime-probe-id", "probe-7"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let head = reqwest::Client::new()
        .head(url(&format!("/heartbeat/{HEARTBEAT_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);

    // Unknown key: 404, nothing stored; other methods: 405.
    let (status, answer) =
        request(reqwest::Method::POST, url("/heartbeat/unknown"), &[], "x").await;
    assert_eq!(
        (status, answer),
        (404, json!({"message": "unknown heartbeat key"}))
    );
    let (status, _) = request(
        reqwest::Method::PUT,
        url(&format!("/heartbeat/{HEARTBEAT_KEY}")),
        &[],
        String::new(),
    )
    .await;
    assert_eq!(status, 405);

    let rows = engine
        .rows(
            "incoming_requests",
            "project_id, monitor_id, method, path, source_addr, probe_id, header_names, \
             header_values, body, time_unix_nano",
            "ORDER BY time_unix_nano",
        )
        .await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    for r in &rows {
        assert_eq!(r["project_id"], PROJECT_2);
        assert_eq!(r["monitor_id"], HEARTBEAT_MONITOR);
        assert!(
            r["source_addr"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{r}"
        );
        assert!(
            !r.to_string().contains(HEARTBEAT_KEY),
            "the key is never stored: {r}"
        );
    }
    let header = |r: &Value, name: &str| -> String {
        let names = r["header_names"].as_array().unwrap();
        let at = names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{name} in {r}"));
        r["header_values"][at].as_str().unwrap().to_owned()
    };
    assert_eq!(rows[0]["method"], "GET");
    assert_eq!(rows[0]["path"], "/heartbeat/***?status=ok");
    assert_eq!(header(&rows[0], "authorization"), "[redacted]");
    assert_eq!(header(&rows[0], "x-custom"), "one");
    assert_eq!(rows[1]["method"], "POST");
    assert_eq!(rows[1]["path"], "/incoming-request/***");
    assert_eq!(rows[1]["body"], body);
    assert_eq!(rows[1]["probe_id"], "probe-7");
    assert_eq!(header(&rows[1], "content-type"), "application/json");
    assert_eq!(rows[2]["method"], "GET", "HEAD is recorded as GET");

    let events = engine.events("incoming_request", 3).await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[1]["method"], "POST");
    assert_eq!(events[1]["body"], body);
    assert_eq!(events[1]["probe_id"], "probe-7");
    assert_eq!(
        events[1]["received_at_unix_nano"],
        rows[1]["time_unix_nano"].to_string()
    );
    let headers: Value = serde_json::from_str(&events[0]["headers"]).unwrap();
    assert_eq!(headers["authorization"], "[redacted]");
    assert_eq!(headers["x-custom"], "one");
    for e in &events {
        assert_eq!(e["project_id"], PROJECT_2);
        assert_eq!(e["monitor_id"], HEARTBEAT_MONITOR);
    }
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e["event_id"].clone()).collect();
    assert_eq!(ids.len(), 3);
    engine.stop().await;
}

/// A `redis-server` of one test, without persistence: a restart comes back empty.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (deploy/local/stack.sh install)");
        let me = Self {
            port,
            child: Some(child),
        };
        wait_until(Duration::from_secs(10), "private redis up", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        me
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ignored = child.kill();
            let _ignored = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_delays_events_and_loses_none() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port).await;
    let url = redis.url();
    let engine = TestEngine::start_with("redis_outage", |c| {
        c.redis.url = url.clone();
        c.redis.timeout_ms = 500;
        c.clickhouse.retry_max_ms = 300;
    })
    .await;
    let key = format!("{}incoming_request", engine.stream_prefix);
    let beat = |n: usize| {
        let url = engine.http_url(&format!("/heartbeat/{HEARTBEAT_KEY}"));
        async move {
            let (status, answer) =
                request(reqwest::Method::POST, url, &[], format!("beat {n}")).await;
            assert_eq!(status, 200, "{answer}");
        }
    };
    beat(0).await;
    wait_until(Duration::from_secs(20), "first event", || async {
        (redis_stream(&redis.url(), &key).await.len() == 1).then_some(())
    })
    .await;

    redis.stop();
    // Accepted while Redis is down: they wait in the WAL.
    for n in 1..=3 {
        beat(n).await;
    }
    assert_eq!(engine.count("incoming_requests").await, 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let redis = PrivateRedis::start(port).await;
    let events = wait_until(
        Duration::from_secs(30),
        "events after the outage",
        || async {
            let entries = redis_stream(&redis.url(), &key).await;
            (entries.len() >= 3).then_some(entries)
        },
    )
    .await;
    let bodies: Vec<&str> = events.iter().map(|e| e["body"].as_str()).collect();
    assert_eq!(bodies, ["beat 1", "beat 2", "beat 3"]);
    let metrics = engine.metrics().await;
    assert!(
        tests::metric(
            &metrics,
            "vigil_ingest_inserts_retried_total{table=\"events-incoming_request\"}"
        ) > 0.0,
        "retries were counted"
    );
    engine.stop().await;
}
