//! Writes the seed corpus of every fuzz target (fuzz/seeds/<target>/) from
//! real messages built by the project's own encoders: the PACKs, HTTP
//! exchanges and block stream of a cascade login, admin RPC frames as
//! vpncmd sends them, JSON-RPC bodies and configuration files.
//!
//! Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.
//! Deterministic: the random parts come from a fixed seed.

use std::fs;
use std::path::Path;

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rustether_admin::framing::{encode_frame, RpcRequest};
use rustether_config::{parse_bytes, write_binary, write_text};
use rustether_proto::block::BlockEncoder;
use rustether_proto::messages::{ErrorReply, Hello, LoginRequest, Welcome};
use rustether_proto::negotiate::{ClientNegotiation, ServerNegotiation};
use rustether_proto::softether::admin_login::AdminLoginRequest;
use rustether_proto::{ErrorCode, Pack};

const NOW: u64 = 1_795_310_799;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/seeds").join(target);
    fs::create_dir_all(&dir).expect("create seed directory");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn with_prefix(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(body);
    v
}

fn main() {
    let mut rng = StdRng::seed_from_u64(9);
    let hello = Hello::server(&mut rng);
    let login = LoginRequest::cascade("DEFAULT", "user1", [7; 20], [9; 20]).to_pack();
    let welcome = Welcome {
        session_name: "SID-USER1-1".into(),
        connection_name: "CID-1".into(),
        session_key: [3; 20],
        session_key_32: 77,
        timeout_ms: 20_000,
        max_connection: 1,
        use_encrypt: true,
        use_compress: false,
        half_connection: false,
        qos: false,
        vlan_id: 0,
        msg: b"hello".to_vec(),
        policy: vec![("Access".into(), 1), ("MaxConnection".into(), 32)],
    }
    .to_pack();
    let admin_login = AdminLoginRequest {
        secure_password: [1; 20],
        ..AdminLoginRequest::for_password("", &[0; 20], Some("DEFAULT"))
    }
    .to_pack();
    let error = ErrorReply::new(ErrorCode::ACCESS_DENIED).to_pack();

    // PACK
    for (name, p) in [
        ("hello", &hello.to_pack()),
        ("login", &login),
        ("welcome", &welcome),
        ("admin_login", &admin_login),
        ("error", &error),
    ] {
        write("pack_decode", name, &p.encode());
    }

    // What a cascade client sends, and what the server answers.
    let mut client = ClientNegotiation::new("127.0.0.1".into(), NOW);
    let mut to_server = Vec::new();
    client.start(&mut to_server);
    let signature_len = to_server.len();
    client.send_request(&login, &mut to_server);
    let mut server = ServerNegotiation::new(hello.clone(), 443, "127.0.0.1".into(), NOW);
    let mut to_client = Vec::new();
    let mut buf = BytesMut::from(&to_server[..]);
    let _ = server.on_input(&mut buf, &mut to_client);
    server.write_pack_response(&welcome, &mut to_client);
    let mut refused = Vec::new();
    server.write_pack_response(&error, &mut refused);

    write(
        "http_parser",
        "client_requests",
        &with_prefix(&[7], &to_server),
    );
    write(
        "http_parser",
        "server_responses",
        &with_prefix(&[31], &to_client),
    );
    write(
        "http_parser",
        "get",
        &with_prefix(&[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    write(
        "server_negotiation",
        "signature_and_login",
        &with_prefix(&[255, 0], &to_server),
    );
    write(
        "server_negotiation",
        "login_after_signature",
        &with_prefix(&[63, 1], &to_server[signature_len..]),
    );
    write(
        "server_negotiation",
        "web_api_post",
        &with_prefix(
            &[255, 0],
            b"POST /api/ HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        ),
    );
    write(
        "client_negotiation",
        "hello_welcome",
        &with_prefix(&[255], &to_client),
    );
    write(
        "client_negotiation",
        "hello_refused",
        &with_prefix(&[15], &refused),
    );

    // Block stream: frames, then a keep-alive, plain and compressed.
    for (name, compressed) in [("plain", false), ("compressed", true)] {
        let mut enc = BlockEncoder::new(compressed);
        let mut out = BytesMut::new();
        let frame: Vec<u8> = (0..60u8).collect();
        enc.encode_frames(&mut out, [&frame[..], &frame[..14]]);
        enc.encode_keepalive(&mut out, &mut rng, 16);
        enc.encode_frames(&mut out, [&frame[..]]);
        let flag = u8::from(compressed) | (40 << 1);
        write("block_decoder", name, &with_prefix(&[flag], &out));
    }

    // UDP acceleration: mode byte (bit 0 = v2, bit 1 = plaintext) and a
    // frame the target also round-trips.
    for (name, mode) in [("v1", 0u8), ("v2", 1), ("plain", 2)] {
        let frame: Vec<u8> = (0..60u8).collect();
        write("udpaccel_datagram", name, &with_prefix(&[mode], &frame));
    }

    // Admin RPC frames as vpncmd sends them after login.
    let mut frames = BytesMut::new();
    for (function, params) in [
        ("GetServerInfo", Pack::new()),
        ("EnumHub", Pack::new()),
        ("CreateHub", {
            let mut p = Pack::new();
            p.add_str("HubName", "HUB2")
                .add_bool("Online", true)
                .add_int("HubType", 0);
            p
        }),
        ("EnumSession", {
            let mut p = Pack::new();
            p.add_str("HubName", "DEFAULT");
            p
        }),
        ("CreateUser", {
            let mut p = Pack::new();
            p.add_str("HubName", "DEFAULT")
                .add_str("Name", "u1")
                .add_int("AuthType", 1)
                .add_data("HashedKey", &[5; 20])
                .add_data("NtLmSecureHash", &[6; 16]);
            p
        }),
        ("EnumUser", {
            let mut p = Pack::new();
            p.add_str("HubName", "DEFAULT");
            p
        }),
    ] {
        let req = RpcRequest::new(function, params);
        encode_frame(&req.pack, &mut frames);
        let mut one = BytesMut::new();
        encode_frame(&req.pack, &mut one);
        write("admin_rpc_frame", function, &with_prefix(&[255], &one));
    }
    write("admin_rpc_frame", "session", &with_prefix(&[100], &frames));

    // JSON-RPC bodies (docs/admin-rpc.md).
    for (name, body) in [
        (
            "get_server_info",
            r#"{"jsonrpc":"2.0","id":"rpc_call_id","method":"GetServerInfo","params":{}}"#,
        ),
        (
            "create_hub",
            r#"{"jsonrpc":"2.0","id":"1","method":"CreateHub","params":{"HubName_str":"HUB2","AdminPasswordPlainText_str":"pw","Online_bool":true,"MaxSession_u32":0,"NoEnum_bool":false,"HubType_u32":0}}"#,
        ),
        (
            "create_user",
            r#"{"jsonrpc":"2.0","id":"2","method":"CreateUser","params":{"HubName_str":"DEFAULT","Name_str":"u1","Realname_utf":"Ü","Note_utf":"","ExpireTime_dt":"2027-01-01T00:00:00.000Z","AuthType_u32":1,"Auth_Password_str":"pw","UsePolicy_bool":true,"policy:Access_bool":true,"policy:MaxConnection_u32":32}}"#,
        ),
        (
            "set_access_list",
            r#"{"jsonrpc":"2.0","id":"3","method":"SetAccessList","params":{"HubName_str":"DEFAULT","AccessList":[{"Id_u32":1,"Note_utf":"a","Active_bool":true,"Priority_u32":1,"Discard_bool":false,"IsIPv6_bool":false,"SrcIpAddress_ip":"192.168.0.0","SrcSubnetMask_ip":"255.255.255.0","Protocol_u32":6,"SrcPortStart_u32":1,"SrcPortEnd_u32":2,"SrcUsername_str":"u1","CheckSrcMac_bool":false,"SrcMacAddress_bin":"AAAAAAAA","DestIpAddress_ip":"10.0.0.1"},{"Id_u32":2,"Note_utf":"b","Active_bool":false,"Priority_u32":2,"IsIPv6_bool":true,"SrcIpAddress6_bin":"AAAAAAAAAAAAAAAAAAAAAA=="}]}}"#,
        ),
        (
            "enum_session",
            r#"{"jsonrpc":"2.0","id":"4","method":"EnumSession","params":{"HubName_str":"DEFAULT"}}"#,
        ),
        (
            "bad_version",
            r#"{"jsonrpc":"1.0","id":"5","method":"EnumHub","params":{}}"#,
        ),
    ] {
        write("json_rpc", name, body.as_bytes());
    }

    // Configuration files: the real 5.01 file and its binary form.
    let real = fs::read("crates/config/tests/data/softether-5.01.config").expect(
        "read crates/config/tests/data/softether-5.01.config (run from the repository root)",
    );
    write("config_text", "softether-5.01.config", &real);
    let root = parse_bytes(&real).expect("the real configuration parses");
    write(
        "config_text",
        "written.config",
        write_text(&root).as_bytes(),
    );
    write("config_text", "binary.config", &write_binary(&root));
    write(
        "config_text",
        "small.config",
        b"declare root\r\n{\r\n\tuint ConfigRevision 1\r\n\tdeclare ServerConfiguration\r\n\t{\r\n\t\tstring Name a\\sb\r\n\t\tbool B true\r\n\t\tbyte K AAE=\r\n\t}\r\n}\r\n",
    );

    // Ethernet frames for the hub's classifier: the kinds the policy
    // filters tell apart (as in crates/hub/src/classify.rs' tests).
    let eth = |dst: u8, et: u16, payload: &[u8]| {
        let mut f = vec![dst, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let ip4 = |proto: u8, l4: &[u8]| {
        let mut h = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h.extend_from_slice(l4);
        h
    };
    let ip6 = |next: u8, l4: &[u8]| {
        let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 255, 0xfe, 0x80];
        h.extend_from_slice(&[0; 13]);
        h.push(1);
        h.extend_from_slice(&[0xff, 2]);
        h.extend_from_slice(&[0; 13]);
        h.push(1);
        h.extend_from_slice(l4);
        h
    };
    let synack = [
        0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
    ];
    let mut hbh = vec![6, 0, 0, 0, 0, 0, 0, 0];
    hbh.extend_from_slice(&synack);
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 2, 192, 168, 1, 9];
    arp.extend_from_slice(&[0; 10]);
    let mut tagged = eth(2, 0x8100, &[0, 5, 0x08, 0x00]);
    tagged.extend_from_slice(&ip4(6, &synack));
    for (name, frame) in [
        ("tcp4_syn_ack", eth(2, 0x0800, &ip4(6, &synack))),
        (
            "dhcp4_reply",
            eth(0xff, 0x0800, &ip4(17, &[0, 67, 0, 68, 0, 0, 0, 0, 2])),
        ),
        (
            "udp4_broadcast",
            eth(0xff, 0x0800, &ip4(17, &[0, 1, 0, 2, 0, 0, 0, 0])),
        ),
        ("arp", eth(0xff, 0x0806, &arp)),
        ("icmp6_ra", eth(0x33, 0x86dd, &ip6(58, &[134, 0, 0, 0]))),
        ("icmp6_rs", eth(0x33, 0x86dd, &ip6(58, &[133, 0, 0, 0]))),
        (
            "dhcp6_server",
            eth(2, 0x86dd, &ip6(17, &[2, 35, 2, 34, 0, 0, 0, 0])),
        ),
        ("tcp6_hop_by_hop", eth(2, 0x86dd, &ip6(0, &hbh))),
        ("non_ip", eth(2, 0x88b5, &[0; 46])),
        ("vlan_tcp4", tagged),
    ] {
        write("hub_classify", name, &frame);
    }

    // RADIUS replies (mode byte 1 = fix up the Response Authenticator):
    // an Access-Accept and an Access-Reject to request id 9 with the fuzz
    // target's secret and request authenticator.
    {
        use rustether_proto::radius::{encode_access_request, encode_reply, PapRequest};
        let req = PapRequest {
            user_name: "alice",
            password: "secret",
            nas_identifier: "SoftEther VPN Server",
            called_station_id: "DEFAULT",
            calling_station_id: "10.0.0.2",
        };
        let secret = b"fuzz-secret";
        let request = encode_access_request(&req, 9, &[7; 16], secret).expect("request");
        for (name, code) in [("accept", 2u8), ("reject", 3)] {
            let reply = encode_reply(code, &request, secret).expect("reply");
            write("radius_reply", name, &with_prefix(&[0], &reply));
        }
    }

    // dhcp_request: a DISCOVER and a REQUEST as the real vpnclient's
    // adapter sends them (client id, host name, requested address, server).
    {
        use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
        use dhcproto::Encodable;
        use std::net::Ipv4Addr;
        let mac = [0x5e, 0x11, 0x22, 0x33, 0x44, 0x01];
        for (name, kind) in [
            ("discover", MessageType::Discover),
            ("request", MessageType::Request),
        ] {
            let mut m = Message::default();
            m.set_opcode(Opcode::BootRequest)
                .set_xid(0x1234_5678)
                .set_chaddr(&mac);
            let opts = m.opts_mut();
            opts.insert(DhcpOption::MessageType(kind));
            opts.insert(DhcpOption::ClientIdentifier(
                [&[1u8][..], &mac[..]].concat(),
            ));
            opts.insert(DhcpOption::Hostname("client1".into()));
            if kind == MessageType::Request {
                opts.insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
                    192, 168, 30, 10,
                )));
                opts.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 168, 30, 1)));
            }
            write("dhcp_request", name, &m.to_vec().expect("encode DHCP"));
        }
    }
}
