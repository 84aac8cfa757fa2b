//! JSON-RPC mapping: the real 9674 answers recorded in crates/admin/NOTES.md
//! reproduced from our structures, request conversion, envelope, auth.

use std::net::{IpAddr, Ipv4Addr};

use rustether_admin::json::*;
use rustether_admin::login::{HubAdminEntry, LoginSource};
use rustether_admin::memory::MemoryBackend;
use rustether_admin::rpc::*;
use rustether_admin::{AdminRights, Caller, OutPack};
use rustether_proto::password::{hash_admin_password, hash_password, nt_password_hash};
use rustether_proto::{ErrorCode, Pack};
use serde_json::{json, Value};

fn js<T: RpcMessage>(v: &T) -> Value {
    to_json(&v.to_out())
}

#[test]
fn enum_listener_matches_9674() {
    // POST EnumListener on 9674 (crates/admin/NOTES.md "JSON-RPC")
    let v = ListenerList {
        listeners: vec![ListenerItem {
            port: 5555,
            enable: true,
            error: false,
        }],
    };
    assert_eq!(
        js(&v),
        json!({"ListenerList": [{"Enables_bool": true, "Errors_bool": false, "Ports_u32": 5555}]})
    );
}

#[test]
fn empty_enumerations_still_have_their_group() {
    assert_eq!(
        js(&EnumLocalBridge::default()),
        json!({"LocalBridgeList": [], "NumItem_u32": 0})
    );
    assert_eq!(
        js(&EnumEth::default()),
        json!({"EthList": [], "NumItem_u32": 0})
    );
    assert_eq!(
        js(&EnumUser {
            hub_name: "TEST".into(),
            users: vec![]
        }),
        json!({"UserList": [], "HubName_str": "TEST"})
    );
}

#[test]
fn enum_hub_item_keys_match_9674() {
    let v = EnumHub {
        hubs: vec![EnumHubItem {
            fields: EnumHubItemFields {
                hub_name: "TEST".into(),
                online: true,
                created_time: 1_795_283_802_605,
                last_comm_time: 1_795_283_802_600,
                last_login_time: 1_795_283_802_600,
                is_traffic_filled: true,
                ..EnumHubItemFields::default()
            },
            traffic: Traffic::default(),
        }],
    };
    let j = js(&v);
    let item = &j["HubList"][0];
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    // the 21 keys 9674 answered (crates/admin/NOTES.md)
    assert_eq!(
        keys,
        [
            "CreatedTime_dt",
            "Ex.Recv.BroadcastBytes_u64",
            "Ex.Recv.BroadcastCount_u64",
            "Ex.Recv.UnicastBytes_u64",
            "Ex.Recv.UnicastCount_u64",
            "Ex.Send.BroadcastBytes_u64",
            "Ex.Send.BroadcastCount_u64",
            "Ex.Send.UnicastBytes_u64",
            "Ex.Send.UnicastCount_u64",
            "HubName_str",
            "HubType_u32",
            "IsTrafficFilled_bool",
            "LastCommTime_dt",
            "LastLoginTime_dt",
            "NumGroups_u32",
            "NumIpTables_u32",
            "NumLogin_u32",
            "NumMacTables_u32",
            "NumSessions_u32",
            "NumUsers_u32",
            "Online_bool",
        ]
    );
    assert_eq!(item["CreatedTime_dt"], "2026-11-22T02:56:42.605Z");
    assert_eq!(j.as_object().unwrap().len(), 1);
}

#[test]
fn get_user_matches_9674() {
    // GetUser bob on 9674: HashedKey_bin "JQpy5+WUHdnFc57qTad2kkhgBSE=" is
    // HashPassword("bob", "bobpw").
    let v = SetUser {
        fields: SetUserFields {
            hub_name: "TEST2".into(),
            name: "bob".into(),
            created_time: 1_795_283_903_986,
            updated_time: 1_795_283_904_154,
            ..SetUserFields::default()
        },
        auth: UserAuth::from_password("bob", "bobpw"),
        ..SetUser::default()
    };
    let j = js(&v);
    assert_eq!(j["HashedKey_bin"], "JQpy5+WUHdnFc57qTad2kkhgBSE=");
    assert_eq!(j["NtLmSecureHash_bin"], "wIBqPoSIwEXSow/w/XUSMw==");
    assert_eq!(j["AuthType_u32"], 1);
    assert_eq!(j["CreatedTime_dt"], "2026-11-22T02:58:23.986Z");
    assert_eq!(j["Realname_utf"], "");
    assert_eq!(j["Recv.UnicastBytes_u64"], 0);
    // zero = never, rendered in SoftEther's time scale (observed)
    assert_eq!(j["ExpireTime_dt"], "1970-01-01T09:00:00.000Z");
    assert!(j.get("UsePolicy_bool").is_none());
    assert_eq!(j.as_object().unwrap().len(), 20);
}

#[test]
fn enum_session_ip_fields_render_as_text() {
    let v = EnumSession {
        hub_name: "TEST2".into(),
        sessions: vec![EnumSessionItem {
            name: "SID-BOB-2".into(),
            username: "bob".into(),
            ip: Ipv4Addr::LOCALHOST,
            client_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            hostname: "127.0.0.1".into(),
            unique_id: [0x2d; 16],
            client_bridge_mode: true,
            ..EnumSessionItem::default()
        }],
    };
    let j = js(&v);
    let s = &j["SessionList"][0];
    assert_eq!(s["Ip_ip"], "127.0.0.1");
    assert_eq!(s["ClientIP_ip"], "127.0.0.1");
    assert_eq!(s["Client_BridgeMode_bool"], true);
    assert!(s.get("ClientIP@ipv6_bool_bool").is_none());
    assert!(s.as_object().unwrap().keys().all(|k| !k.contains('@')));
    assert_eq!(s.as_object().unwrap().len(), 24); // as 9674 (crates/admin/NOTES.md)
                                                  // IPv6 renders in text form too
    let mut v6 = v.clone();
    v6.sessions[0].client_ip = Some("2001:db8::5".parse().unwrap());
    assert_eq!(js(&v6)["SessionList"][0]["ClientIP_ip"], "2001:db8::5");
}

#[test]
fn caps_are_both_top_level_and_grouped() {
    let v = CapsList {
        caps: vec![("b_standalone".into(), 1), ("i_max_hubs".into(), 100_000)],
    };
    let j = js(&v);
    assert_eq!(j["caps_i_max_hubs_u32"], 100_000);
    assert_eq!(j["CapsList"][1]["CapsName_str"], "i_max_hubs");
    assert_eq!(j["CapsList"][1]["CapsValue_u32"], 100_000);
    assert_eq!(j["CapsList"][0]["CapsDescrption_utf"], "b_standalone");
}

#[test]
fn ungrouped_arrays_and_mismatched_groups() {
    let k = KeyPair {
        cert: Some(vec![1, 2, 3]),
        chain: vec![vec![4], vec![5]],
        key: None,
        flag1: 0,
    };
    assert_eq!(
        js(&k),
        json!({"Cert_bin": "AQID", "Chain_bin": ["BA==", "BQ=="], "Flag1_u32": 0})
    );
    // a group whose arrays have different lengths is dropped (PackToJson)
    let mut o = OutPack::new();
    o.group("G", |o| {
        o.push_int("A", 1);
        o.push_int("A", 2);
        o.push_int("B", 3);
    });
    assert_eq!(to_json(&o), json!({}));
}

#[test]
fn times_format_and_parse() {
    // ServerBuildDate of 9674: PACK 1665878652000, JSON "2022-10-16T09:04:12.000Z"
    assert_eq!(format_time(1_665_878_652_000), "2022-10-16T09:04:12.000Z");
    assert_eq!(parse_time("2022-10-16T09:04:12.000Z"), 1_665_878_652_000);
    // zero = none (observed rendering) and back
    assert_eq!(format_time(0), "1970-01-01T09:00:00.000Z");
    assert_eq!(parse_time("1970-01-01T09:00:00.000Z"), 0);
    assert_eq!(parse_time("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(format_unix_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(
        parse_unix_ms("2000-02-29T00:00:00.123Z"),
        Some(951_782_400_123)
    );
    // offsets are ignored as SoftEther does; short fractions are padded
    assert_eq!(
        parse_time("2017-09-27T18:25:55.434-9:00"),
        parse_time("2017-09-27T18:25:55.434Z")
    );
    assert_eq!(
        parse_time("2017-09-27T18:25:55+09:00"),
        parse_time("2017-09-27T18:25:55Z")
    );
    assert_eq!(parse_unix_ms("2017-09-27T18:25:55.4Z").unwrap() % 1000, 400);
    for bad in [
        "",
        "yesterday",
        "2017-13-01T00:00:00Z",
        "2017-09-27 18:25:55",
        "1969-12-31T23:59:59Z",
    ] {
        assert_eq!(parse_time(bad), 0, "{bad}");
    }
    for t in [1u64, 999, 86_399_999, 1_795_283_802_605, 4_000_000_000_000] {
        assert_eq!(parse_time(&format_time(t)), t);
    }
}

#[test]
fn softether_string_conversions() {
    assert_eq!(to_int("0x10"), 16);
    assert_eq!(to_int("010"), 10); // leading zeros dropped, no octal
    assert_eq!(to_int(" 42abc"), 42);
    assert_eq!(to_int("-1"), u32::MAX);
    assert_eq!(to_int("x"), 0);
    assert_eq!(to_int64("1,000"), 1000);
    assert_eq!(to_int64(" 5"), 0);
    for t in ["1", "true", "TRUE", "t", "yes", "y", "yesss", "truely"] {
        assert!(to_bool(t), "{t}");
    }
    for f in ["", "0", "false", "no", "tx"] {
        assert!(!to_bool(f), "{f}");
    }
}

#[test]
fn params_convert_by_suffix_like_9674() {
    // the Test call observed on 9674 (crates/admin/NOTES.md)
    let p = from_json(&json!({"intvalue_u32": "0x10", "Int64Value_u64": "77",
        "UniStrValue_utf": true, "StrValue_str": 5, "Ignored": 1, "Null_u32": null}));
    assert_eq!(p.get_int("IntValue"), Some(16));
    assert_eq!(p.get_int64("Int64Value"), Some(77));
    assert_eq!(p.get_unistr("UniStrValue"), Some("true"));
    assert_eq!(p.get_str("StrValue"), Some("5"));
    assert_eq!(p.len(), 4);
    let p = from_json(&json!({
        "Online_bool": "yes", "When_dt": "2022-10-16T09:04:12.000Z", "Num_dt": 5,
        "Blob_bin": "AQID", "Bad_bin": "%%%", "Addr_ip": "10.1.2.3", "V6_ip": "::1",
        "BadIp_ip": "999.1.1.1"
    }));
    assert!(p.get_bool("Online"));
    assert_eq!(p.get_int64("When"), Some(1_665_878_652_000));
    assert_eq!(p.get_int64("Num"), Some(5));
    assert_eq!(p.get_data("Blob"), Some(&[1u8, 2, 3][..]));
    assert!(p.element("Bad").is_none());
    assert_eq!(p.get_int("Addr"), Some(0x0302_010a));
    assert!(p.get_bool("V6@ipv6_bool"));
    assert!(p.element("BadIp").is_none());
}

#[test]
fn array_params_become_multi_value_elements() {
    let p = from_json(&json!({
        "HubName_str": "TEST",
        "UserList": [{"Name_str": "a", "Note_utf": "x"}, {"Name_str": "b"}],
        "Ports_u32": [1, 2, 3],
    }));
    assert_eq!(p.count("Name"), 2);
    assert_eq!(p.get_str_at("Name", 1), Some("b"));
    // a field missing in one object is zero-filled, as SoftEther's Ex adders
    assert_eq!(p.count("Note"), 2);
    assert_eq!(p.get_unistr_at("Note", 1), Some(""));
    assert_eq!(p.count("Ports"), 3);
    let e = EnumUser::from_pack(&p).unwrap();
    assert_eq!(e.users.len(), 2);
    assert_eq!(from_json(&json!([1, 2])), Pack::new());
}

/// Everything a structure writes comes back through JSON unchanged.
#[test]
fn structures_survive_json_round_trip() {
    fn rt<T: RpcMessage + PartialEq + std::fmt::Debug>(v: T) {
        let j = js(&v);
        let back = T::from_pack(&from_json(&j)).unwrap();
        assert_eq!(back, v, "via {j}");
    }
    rt(SetUser {
        fields: SetUserFields {
            hub_name: "H".into(),
            name: "u".into(),
            realname: "Jöhn ü€".into(),
            note: "n".into(),
            created_time: 1,
            updated_time: 4_000_000_000_000,
            expire_time: 0,
            ..SetUserFields::default()
        },
        auth: UserAuth::from_password("u", "p"),
        num_login: 3,
        traffic: Traffic {
            recv: TrafficSide {
                unicast_bytes: u64::MAX,
                ..TrafficSide::default()
            },
            ..Traffic::default()
        },
        policy: Some(Policy {
            access: true,
            vlan_id: 7,
            ..Policy::default()
        }),
    });
    rt(EnumSession {
        hub_name: "H".into(),
        sessions: vec![
            EnumSessionItem {
                name: "S1".into(),
                ip: Ipv4Addr::new(10, 0, 0, 1),
                client_ip: Some("2001:db8::1".parse().unwrap()),
                unique_id: [9; 16],
                last_comm_time: 5,
                ..EnumSessionItem::default()
            },
            EnumSessionItem {
                name: "S2".into(),
                client_ip: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ..EnumSessionItem::default()
            },
        ],
    });
    rt(CreateLink {
        hub_name: "H".into(),
        online: true,
        option: ClientOption {
            account_name: "l".into(),
            hostname: "h/hint".into(),
            port: 443,
            num_retry: u32::MAX,
            use_encrypt: true,
            host_unique_key: [1; 20],
            bind_local_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            ..ClientOption::default()
        },
        auth: ClientAuth {
            auth_type: ClientAuth::PLAIN_PASSWORD,
            username: "x".into(),
            plain_password: "y".into(),
            ..ClientAuth::default()
        },
        server_cert: Some(vec![0x30]),
        ..CreateLink::default()
    });
    rt(LinkStatus {
        hub_name: "H".into(),
        account_name: "l".into(),
        status: ConnectionStatus {
            fields: ConnectionStatusFields {
                account_name: "l".into(),
                session_key: [3; 20],
                start_time: 99,
                ..ConnectionStatusFields::default()
            },
            ..ConnectionStatus::default()
        },
    });
    rt(EnumLocalBridge {
        items: vec![LocalBridgeItem {
            device_name: "d".into(),
            hub_name: "H".into(),
            online: true,
            active: false,
            tap_mode: true,
        }],
    });
    rt(ListenerList {
        listeners: vec![ListenerItem {
            port: 1,
            enable: true,
            error: true,
        }],
    });
}

#[test]
fn envelope_errors_as_observed_on_9674() {
    let r = |b: &str| parse_request(b.as_bytes()).unwrap_err().response();
    assert_eq!(
        r(r#"{"jsonrpc":"2.0","id":"h","method":"Test""#),
        json!({"error": {"code": 38, "message": "Error code 38: Parameter is invalid: JSON-RPC Parse Error"}, "jsonrpc": "2.0", "id": "0"})
    );
    assert_eq!(
        r(r#"{"jsonrpc":"1.0","id":"h","method":"Test","params":{}}"#)["error"]["message"],
        "Error code 38: JSON-RPC version is invalid"
    );
    assert_eq!(
        r(r#"{"jsonrpc":"1.0","id":"h","method":"Test","params":{}}"#)["id"],
        "0"
    );
    assert_eq!(
        r(r#"{"jsonrpc":"2.0","id":"h","method":"Test"}"#),
        json!({"error": {"code": 38, "message": "Error code 38: JSON-RPC parameter is empty"}, "jsonrpc": "2.0", "id": "h"})
    );
    assert_eq!(
        r(r#"{"jsonrpc":"2.0","id":"h","params":{}}"#)["error"]["message"],
        "Error code 38: JSON-RPC method name is empty"
    );
    assert_eq!(
        r(r#"{"jsonrpc":"2.0","id":"h","method":"Test","params":[]}"#)["error"]["message"],
        "Error code 38: JSON-RPC parameter is empty"
    );
    let ok = parse_request(
        br#"{"jsonrpc":"2.0","id":5,"method":"GetHub","params":{"HubName_str":"NOPE"}}"#,
    )
    .unwrap();
    assert_eq!(ok.id, "0"); // numeric ids are answered "0" (observed)
}

#[test]
fn calls_through_the_memory_backend() {
    let mut b = MemoryBackend::new("adminpw");
    b.add_hub("TEST", "hubpw");
    let admin = Caller::server_admin(true);
    let post = |b: &mut MemoryBackend, c: &Caller, body: Value| {
        handle_post(b, c, body.to_string().as_bytes())
    };
    // observed error texts for 8 and 52
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"x","method":"GetHub","params":{"HubName_str":"NOPE"}}),
    );
    assert_eq!(
        r,
        json!({"error": {"code": 8, "message": "Error code 8: The specified Virtual Hub does not exist on the server."}, "jsonrpc": "2.0", "id": "x"})
    );
    let hub_admin = Caller::hub_admin("TEST", false);
    let r = post(
        &mut b,
        &hub_admin,
        json!({"jsonrpc":"2.0","id":"h","method":"GetHubStatus","params":{"HubName_str":"OTHER"}}),
    );
    assert_eq!(
        r["error"]["message"],
        "Error code 52: Not enough privileges."
    );
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"h","method":"NoSuchMethod","params":{}}),
    );
    assert_eq!(r["error"]["code"], 33);
    // Test (observed: IntValue 12345 → StrValue "12345")
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"t","method":"Test","params":{"IntValue_u32":12345}}),
    );
    assert_eq!(
        r,
        json!({"result": {"Int64Value_u64": 0, "IntValue_u32": 12345, "StrValue_str": "12345", "UniStrValue_utf": ""}, "jsonrpc": "2.0", "id": "t"})
    );
    // plaintext conveniences (docs/admin-rpc.md §9, verified on 9674)
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"1","method":"CreateHub",
        "params":{"HubName_str":"J","AdminPasswordPlainText_str":"jpw","Online_bool":true}}),
    );
    assert!(r.get("result").is_some(), "{r}");
    assert_eq!(
        b.hub("J").unwrap().hub.fields.hashed_password,
        hash_admin_password("jpw")
    );
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"2","method":"CreateUser",
        "params":{"HubName_str":"J","Name_str":"alice","AuthType_u32":1,"Auth_Password_str":"Secret1"}}),
    );
    assert!(r.get("result").is_some(), "{r}");
    match &b.hub("J").unwrap().users["alice"].auth {
        UserAuth::Password { hash, nt_hash } => {
            assert_eq!(*hash, hash_password("alice", "Secret1"));
            assert_eq!(*nt_hash, Some(nt_password_hash("Secret1")));
        }
        other => panic!("{other:?}"),
    }
    let r = post(
        &mut b,
        &admin,
        json!({"jsonrpc":"2.0","id":"3","method":"SetServerPassword",
        "params":{"PlainTextPassword_str":"x"}}),
    );
    assert_eq!(r["result"]["PlainTextPassword_str"], "");
    assert_eq!(b.server_password, hash_admin_password("x"));
    // a GET request
    let req = parse_get(
        "/api/GetHubStatus?HubName_str=J&HubName_str=ignored",
        "2026-11-22 02:58:45.651",
    )
    .unwrap();
    let r = call(&mut b, &admin, &req);
    assert_eq!(r["result"]["HubName_str"], "J");
    assert_eq!(r["id"], "2026-11-22 02:58:45.651");
    let body = String::from_utf8(to_body(&r)).unwrap();
    assert!(body.starts_with("{\n    \""), "{body}");
}

#[test]
fn get_targets() {
    let r = parse_get("/api/EnumUser/x?HubName_str=A%20B&Flag_bool=1&&junk", "i").unwrap();
    assert_eq!(r.method, "EnumUser");
    assert_eq!(r.params, json!({"HubName_str": "A B", "Flag_bool": "1"}));
    assert_eq!(parse_get("/api/", "i"), None);
    assert_eq!(parse_get("/api", "i"), None);
    assert_eq!(parse_get("/other/Test", "i"), None);
    let r = parse_get("/API/Test?x_str=%zz%41+", "i").unwrap();
    assert_eq!(r.params["x_str"], "%zzA ");
}

#[test]
fn credentials_from_headers() {
    let headers = |list: Vec<(&'static str, &'static str)>| {
        move |name: &str| {
            list.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    };
    let c = parse_credentials(headers(vec![("x-vpnadmin-password", "pw")])).unwrap();
    assert_eq!((c.username.as_str(), c.password.as_str()), ("", "pw"));
    let c = parse_credentials(headers(vec![
        ("X-VPNADMIN-PASSWORD", "pw"),
        ("X-VPNADMIN-HUBNAME", "TEST"),
        ("Authorization", "Basic YWRtaW5pc3RyYXRvcjp6"),
    ]))
    .unwrap();
    assert_eq!(c.username, "TEST");
    // Basic "administrator:adminpw" and ":pw"
    let c = parse_credentials(headers(vec![(
        "Authorization",
        "Basic YWRtaW5pc3RyYXRvcjphZG1pbnB3",
    )]))
    .unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.as_str()),
        ("administrator", "adminpw")
    );
    let c = parse_credentials(headers(vec![("authorization", "basic OnB3")])).unwrap();
    assert_eq!((c.username.as_str(), c.password.as_str()), ("", "pw"));
    assert!(parse_credentials(headers(vec![])).is_none());
    assert!(parse_credentials(headers(vec![("Authorization", "Bearer abc")])).is_none());
    assert!(parse_credentials(headers(vec![("Authorization", "Basic !!!")])).is_none());
    assert!(!format!("{c:?}").contains("pw"));
}

/// A header lookup over `list`, case-insensitive like the server's.
fn hdr<'a>(list: Vec<(&'a str, &'a str)>) -> impl Fn(&str) -> Option<&'a str> {
    move |name: &str| {
        list.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

#[test]
fn metrics_bearer_token_parsing_and_matching() {
    let t = "0123456789abcdef-token";
    let auth = format!("Bearer {t}");
    assert_eq!(
        parse_bearer_token(hdr(vec![("Authorization", &auth)])),
        Some(t)
    );
    assert_eq!(
        parse_bearer_token(hdr(vec![("authorization", " bearer \tabc ")])),
        Some("abc")
    );
    assert_eq!(parse_bearer_token(hdr(vec![])), None);
    assert_eq!(
        parse_bearer_token(hdr(vec![("Authorization", "Bearer ")])),
        None
    );
    assert_eq!(
        parse_bearer_token(hdr(vec![("Authorization", "Basic YTpi")])),
        None
    );
    let long = format!("Bearer {}", "x".repeat(METRICS_TOKEN_MAX_LEN + 1));
    assert_eq!(
        parse_bearer_token(hdr(vec![("Authorization", &long)])),
        None
    );

    assert!(metrics_token_matches(t, t));
    assert!(!metrics_token_matches(t, "0123456789abcdef-tokeN"));
    assert!(!metrics_token_matches(t, "0123456789abcdef"));
    assert!(!metrics_token_matches(t, ""));
    // A configured token below the minimum length is never usable.
    let short = "x".repeat(METRICS_TOKEN_MIN_LEN - 1);
    assert!(!metrics_token_matches(&short, &short));
    assert!(!metrics_token_matches("", ""));
}

#[test]
fn json_login_rules() {
    let own = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))];
    let local = LoginSource {
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_addrs: &own,
        trust_local: true,
    };
    let remote = LoginSource {
        peer: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
        local_addrs: &own,
        trust_local: true,
    };
    let hub = |pw: &'static str| {
        move |n: &str| {
            n.eq_ignore_ascii_case("TEST").then(|| HubAdminEntry {
                name: "TEST".into(),
                hashed_password: hash_admin_password(pw),
            })
        }
    };
    let cred = |u: &str, p: &str| AdminCredentials {
        username: u.into(),
        password: p.into(),
    };
    let set = hash_admin_password("adminpw");
    let empty = hash_admin_password("");
    assert_eq!(
        json_login(&cred("", "adminpw"), &set, hub("h"), remote),
        Ok(AdminRights::Server)
    );
    assert_eq!(
        json_login(&cred("Administrator", "adminpw"), &set, hub("h"), remote),
        Ok(AdminRights::Server)
    );
    assert_eq!(
        json_login(&cred("", "bad"), &set, hub("h"), local),
        Err(ErrorCode(9))
    );
    assert_eq!(
        json_login(&cred("test", "h"), &set, hub("h"), remote),
        Ok(AdminRights::Hub("TEST".into()))
    );
    assert_eq!(
        json_login(&cred("TEST", "adminpw"), &set, hub("h"), remote),
        Err(ErrorCode(9))
    );
    assert_eq!(
        json_login(&cred("NOPE", "h"), &set, hub("h"), remote),
        Err(ErrorCode(9))
    );
    // hubs with an empty password refuse hub-admin login (as SoftEther)
    assert_eq!(
        json_login(&cred("TEST", ""), &set, hub(""), local),
        Err(ErrorCode(9))
    );
    // no server password: anything logs in locally, nothing as server admin remotely
    assert_eq!(
        json_login(&cred("", "whatever"), &empty, hub("h"), local),
        Ok(AdminRights::Server)
    );
    assert_eq!(
        json_login(&cred("TEST", "x"), &empty, hub("h"), local),
        Ok(AdminRights::Server)
    );
    assert_eq!(
        json_login(&cred("", "whatever"), &empty, hub("h"), remote),
        Err(ErrorCode(51))
    );
    assert_eq!(
        json_login(&cred("TEST", "h"), &empty, hub("h"), remote),
        Ok(AdminRights::Hub("TEST".into()))
    );
}

#[test]
fn access_lists_in_json_rpc_form() {
    let mut b = MemoryBackend::new("adminpw");
    b.add_hub("TEST", "hubpw");
    let admin = Caller::server_admin(true);
    let post =
        |b: &mut MemoryBackend, body: Value| handle_post(b, &admin, body.to_string().as_bytes());
    // SoftEther's documented form: the entry inside `AccessListSingle`
    let r = post(
        &mut b,
        json!({"jsonrpc":"2.0","id":"1","method":"AddAccess","params":{
            "HubName_str":"TEST",
            "AccessListSingle":[{
                "Note_utf":"no ping","Active_bool":true,"Priority_u32":10,"Discard_bool":true,
                "DestIpAddress_ip":"10.0.0.2","DestSubnetMask_ip":"255.255.255.255",
                "Protocol_u32":1
            }]
        }}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let l = &b.hub("TEST").unwrap().access;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].dst_ip, std::net::Ipv4Addr::new(10, 0, 0, 2));
    assert!(l[0].discard && l[0].active);
    let r = post(
        &mut b,
        json!({"jsonrpc":"2.0","id":"2","method":"EnumAccess","params":{"HubName_str":"TEST"}}),
    );
    let e = &r["result"]["AccessList"][0];
    assert_eq!(e["Note_utf"], "no ping", "{r}");
    assert_eq!(e["Id_u32"], 1, "{r}");
    assert_eq!(e["DestIpAddress_ip"], "10.0.0.2", "{r}");
    // SetAcList / GetAcList with the `ACList` group
    let r = post(
        &mut b,
        json!({"jsonrpc":"2.0","id":"3","method":"SetAcList","params":{
            "HubName_str":"TEST",
            "ACList":[{"Deny_bool":true,"Priority_u32":5,"IpAddress_ip":"10.0.0.0",
                       "Masked_bool":true,"SubnetMask_ip":"255.0.0.0"}]
        }}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let r = post(
        &mut b,
        json!({"jsonrpc":"2.0","id":"4","method":"GetAcList","params":{"HubName_str":"TEST"}}),
    );
    let e = &r["result"]["ACList"][0];
    assert_eq!(e["IpAddress_ip"], "10.0.0.0", "{r}");
    assert_eq!(e["Deny_bool"], true, "{r}");
    assert_eq!(r["result"]["NumItem_u32"], 1, "{r}");
}
