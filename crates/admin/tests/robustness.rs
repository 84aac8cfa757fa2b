//! Hostile input never panics: arbitrary request PACKs through every RPC of
//! the dispatcher, arbitrary bytes through the frame decoder, arbitrary JSON
//! through the JSON-RPC path, arbitrary text through the parsers.

use bytes::BytesMut;
use proptest::prelude::*;
use rustether_admin::framing::RpcFrameDecoder;
use rustether_admin::json;
use rustether_admin::memory::MemoryBackend;
use rustether_admin::{dispatch, AdminLoginRequest, Caller, RpcFunction};
use rustether_proto::{Element, Pack, Value};

/// Element names the RPCs read, so that random PACKs hit real fields.
const NAMES: &[&str] = &[
    "HubName",
    "Name",
    "HubName_Ex",
    "HubNameLB",
    "AccountName",
    "DeviceName",
    "Port",
    "Enable",
    "AuthType",
    "HashedKey",
    "NtLmSecureHash",
    "Auth_Password",
    "HashedPassword",
    "SecurePassword",
    "AdminPasswordPlainText",
    "PlainTextPassword",
    "Online",
    "HubType",
    "NumItem",
    "Ports",
    "UsePolicy",
    "policy:Access",
    "ClientIP",
    "ClientIP@ipv6_bool",
    "ClientIP@ipv6_array",
    "Ip",
    "UserX",
    "Serial",
    "CommonName",
    "ServerCert",
    "FileData",
    "UseKeepConnect",
    "KeepConnectHost",
    "KeepConnectPort",
    "IntValue",
    "Chain",
    "caps_x",
    "secure_password",
    "hubname",
    "GroupName",
    "TargetHubName",
    "ConnectedHubName",
];

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u32>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Int64),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Data),
        "[ -~]{0,300}".prop_map(Value::Str),
        "\\PC{0,20}".prop_map(Value::UniStr),
    ]
}

fn arb_pack() -> impl Strategy<Value = Pack> {
    proptest::collection::vec(
        (
            prop::sample::select(NAMES),
            proptest::collection::vec(arb_value(), 1..4),
        ),
        0..12,
    )
    .prop_map(|els| {
        let mut p = Pack::new();
        for (name, values) in els {
            // one type per element, as on the wire
            let t = values[0].value_type();
            let values: Vec<Value> = values.into_iter().filter(|v| v.value_type() == t).collect();
            p.add_element(Element {
                name: name.to_string(),
                values,
            });
        }
        p
    })
}

fn backend() -> MemoryBackend {
    let mut b = MemoryBackend::new("pw");
    b.add_hub("TEST", "hubpw");
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_rpc_survives_random_requests(p in arb_pack(), hub_admin in any::<bool>()) {
        let caller = if hub_admin { Caller::hub_admin("TEST", false) } else { Caller::server_admin(false) };
        let mut b = backend();
        for f in RpcFunction::ALL {
            let r = dispatch(&mut b, &caller, f.name(), &p);
            // the answer is a well-formed PACK (error or result)
            prop_assert!(Pack::decode(&r.encode()).is_ok());
        }
        let _ = AdminLoginRequest::from_pack(&p);
    }

    #[test]
    fn frame_decoder_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = RpcFrameDecoder::new(1000);
        let mut buf = BytesMut::from(&bytes[..]);
        for _ in 0..4 {
            match d.decode(&mut buf) {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }

    #[test]
    fn json_path_survives_random_bodies(body in "\\PC{0,200}") {
        let mut b = backend();
        let _ = json::handle_post(&mut b, &Caller::server_admin(true), body.as_bytes());
        let _ = json::parse_get(&body, "id");
        let _ = json::parse_time(&body);
        let _ = json::to_int(&body);
        let _ = json::to_bool(&body);
    }

    #[test]
    fn json_params_survive_random_structures(
        keys in proptest::collection::vec("[A-Za-z@:.]{0,8}_(u32|u64|bool|str|utf|bin|dt|ip|x)", 0..6),
        nums in proptest::collection::vec(any::<i64>(), 6),
        strs in proptest::collection::vec("\\PC{0,12}", 6),
    ) {
        let mut obj = serde_json::Map::new();
        for (i, k) in keys.iter().enumerate() {
            let v = match i % 4 {
                0 => serde_json::json!(nums[i]),
                1 => serde_json::json!(strs[i]),
                2 => serde_json::json!([nums[i], strs[i]]),
                _ => serde_json::json!([{ k.clone(): nums[i] }, { k.clone(): strs[i] }]),
            };
            obj.insert(k.clone(), v);
        }
        let params = serde_json::Value::Object(obj);
        let p = json::from_json(&params);
        prop_assert!(Pack::decode(&p.encode()).is_ok());
        let mut b = backend();
        for f in [RpcFunction::CreateUser, RpcFunction::CreateHub, RpcFunction::EnumSession, RpcFunction::SetLink] {
            let req = json::JsonRpcRequest { id: "1".into(), method: f.name().into(), params: params.clone() };
            let _ = json::call(&mut b, &Caller::server_admin(true), &req);
        }
    }
}
