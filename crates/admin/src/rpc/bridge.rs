//! Local bridge RPCs (docs/admin-rpc.md §6.5).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// One network adapter of [`EnumEth`].
    pub struct EnumEthItem {
        /// `DeviceName[]`.
        device_name: String = "DeviceName" as name,
        /// `NetworkConnectionName[]` (UNISTR description).
        network_connection_name: String = "NetworkConnectionName" as ustr,
    }
}

/// RPC_ENUM_ETH: response of `EnumEthernet` (vpncmd `BridgeDeviceList`).
/// vpncmd reads the count from INT `NumItem`, which is always sent, also
/// when 0 (verified); JSON group `EthList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumEth {
    /// The adapters.
    pub items: Vec<EnumEthItem>,
}

impl RpcMessage for EnumEth {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumEth {
            items: read_items(&r, r.num_item("DeviceName")?, EnumEthItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.group("EthList", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// RPC_LOCALBRIDGE: `AddLocalBridge`/`DeleteLocalBridge` request and
    /// echo. Note the element name `HubNameLB` (verified).
    pub struct LocalBridge {
        /// `DeviceName`: network adapter or tap name.
        device_name: String = "DeviceName" as name,
        /// `HubNameLB`: the virtual hub.
        hub_name: String = "HubNameLB" as name,
        /// `TapMode`: create a tap device instead of using an adapter.
        tap_mode: bool = "TapMode" as bool,
    }
}

pack_struct! {
    /// One local bridge of [`EnumLocalBridge`].
    pub struct LocalBridgeItem {
        /// `DeviceName[]`.
        device_name: String = "DeviceName" as name,
        /// `HubNameLB[]`.
        hub_name: String = "HubNameLB" as name,
        /// `Online[]`: the hub is online.
        online: bool = "Online" as bool,
        /// `Active[]`: the bridge runs (vpncmd shows `Error` otherwise).
        active: bool = "Active" as bool,
        /// `TapMode[]`.
        tap_mode: bool = "TapMode" as bool,
    }
}

/// RPC_ENUM_LOCALBRIDGE: response of `EnumLocalBridge` (vpncmd
/// `BridgeList`); count from INT `NumItem`, always sent (verified); JSON
/// group `LocalBridgeList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumLocalBridge {
    /// The bridges.
    pub items: Vec<LocalBridgeItem>,
}

impl RpcMessage for EnumLocalBridge {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumLocalBridge {
            items: read_items(&r, r.num_item("DeviceName")?, LocalBridgeItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.group("LocalBridgeList", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}

flat_message!(LocalBridge);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn num_item_always_present() {
        let p = round_trip(&EnumEth::default());
        assert_eq!(p.get_int("NumItem"), Some(0));
        assert_eq!(p.len(), 1);
        let p = round_trip(&EnumLocalBridge::default());
        assert_eq!(p.get_int("NumItem"), Some(0));
    }

    #[test]
    fn bridges_round_trip() {
        let p = round_trip(&EnumEth {
            items: vec![EnumEthItem {
                device_name: "eth0".into(),
                network_connection_name: "eth0".into(),
            }],
        });
        assert_eq!(p.get_int("NumItem"), Some(1));
        let p = round_trip(&EnumLocalBridge {
            items: vec![
                LocalBridgeItem {
                    device_name: "lanbr".into(),
                    hub_name: "DEFAULT".into(),
                    online: true,
                    active: true,
                    tap_mode: false,
                },
                LocalBridgeItem {
                    device_name: "nodev0".into(),
                    hub_name: "TEST".into(),
                    online: true,
                    active: false,
                    tap_mode: true,
                },
            ],
        });
        assert_eq!(p.get_str_at("HubNameLB", 1), Some("TEST"));
        let p = round_trip(&LocalBridge {
            device_name: "lanbr".into(),
            hub_name: "DEFAULT".into(),
            tap_mode: true,
        });
        assert_eq!(p.get_str("HubNameLB"), Some("DEFAULT"));
        assert!(p.element("HubName").is_none());
    }

    #[test]
    fn num_item_beyond_the_arrays_is_rejected_not_allocated() {
        let mut p = Pack::new();
        p.add_int("NumItem", u32::MAX);
        assert_eq!(EnumEth::from_pack(&p), Err(ErrorCode::INVALID_PARAMETER));
        p.push_str("DeviceName", "a");
        p.push_str("DeviceName", "b");
        p.add_int("NumItem", 3);
        assert_eq!(
            EnumLocalBridge::from_pack(&p),
            Err(ErrorCode::INVALID_PARAMETER)
        );
        // fewer items than values is fine; other arrays may be missing (zeros)
        p.add_int("NumItem", 2);
        let v = EnumLocalBridge::from_pack(&p).unwrap();
        assert_eq!(v.items.len(), 2);
        assert_eq!(v.items[1].device_name, "b");
        assert_eq!(v.items[1].hub_name, "");
    }
}
