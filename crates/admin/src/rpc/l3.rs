//! Virtual Layer 3 Switch RPCs (src/Cedar/Admin.c `InRpcL3Sw`/`OutRpcL3Sw`,
//! `InRpcEnumL3Sw`/`OutRpcEnumL3Sw`, `InRpcL3If`/`OutRpcL3If`,
//! `InRpcEnumL3If`/`OutRpcEnumL3If`, `InRpcL3Table`/`OutRpcL3Table`,
//! `InRpcEnumL3Table`/`OutRpcEnumL3Table`; vpncmd `Router*`).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// RPC_L3SW: request and echo of `AddL3Switch`, `DelL3Switch`,
    /// `StartL3Switch`, `StopL3Switch`.
    pub struct L3Sw {
        /// `Name`: the switch name.
        name: String = "Name" as name,
    }
}

pack_struct! {
    /// RPC_L3IF: request and echo of `AddL3If`, `DelL3If`; one item of
    /// [`EnumL3If`].
    pub struct L3If {
        /// `Name`: the switch name (not sent per item by `EnumL3If`).
        name: String = "Name" as name,
        /// `HubName`: the hub the interface attaches to.
        hub_name: String = "HubName" as name,
        /// `IpAddress` (`PackAddIp32`).
        ip_address: std::net::Ipv4Addr = "IpAddress" as ip4,
        /// `SubnetMask` (`PackAddIp32`).
        subnet_mask: std::net::Ipv4Addr = "SubnetMask" as ip4,
    }
}

pack_struct! {
    /// RPC_L3TABLE: request and echo of `AddL3Table`, `DelL3Table`; one
    /// item of [`EnumL3Table`].
    pub struct L3Table {
        /// `Name`: the switch name (not sent per item by `EnumL3Table`).
        name: String = "Name" as name,
        /// `NetworkAddress`.
        network_address: std::net::Ipv4Addr = "NetworkAddress" as ip4,
        /// `SubnetMask`.
        subnet_mask: std::net::Ipv4Addr = "SubnetMask" as ip4,
        /// `GatewayAddress`.
        gateway_address: std::net::Ipv4Addr = "GatewayAddress" as ip4,
        /// `Metric` (≥ 1).
        metric: u32 = "Metric" as int,
    }
}

flat_message!(L3Sw, L3If, L3Table);

pack_struct! {
    /// One switch of [`EnumL3Sw`] (`RPC_ENUM_L3SW_ITEM`).
    pub struct EnumL3SwItem {
        /// `Name[]`.
        name: String = "Name" as name,
        /// `NumInterfaces[]`.
        num_interfaces: u32 = "NumInterfaces" as int,
        /// `NumTables[]`: number of static routes.
        num_tables: u32 = "NumTables" as int,
        /// `Active[]`: started by the administrator.
        active: bool = "Active" as bool,
        /// `Online[]`: attached to all its hubs and routing.
        online: bool = "Online" as bool,
    }
}

/// RPC_ENUM_L3SW: response of `EnumL3Switch` (vpncmd `RouterList`); JSON
/// group `L3SWList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumL3Sw {
    /// The switches.
    pub items: Vec<EnumL3SwItem>,
}

impl RpcMessage for EnumL3Sw {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let n = r.count("Name");
        Ok(EnumL3Sw {
            items: read_items(&r, n, EnumL3SwItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.group("L3SWList", |o| {
            self.items.iter().for_each(|i| i.push_item(o))
        });
    }
}

pack_struct! {
    /// One interface item of [`EnumL3If`].
    pub struct EnumL3IfItem {
        /// `HubName[]`.
        hub_name: String = "HubName" as name,
        /// `IpAddress[]`.
        ip_address: std::net::Ipv4Addr = "IpAddress" as ip4,
        /// `SubnetMask[]`.
        subnet_mask: std::net::Ipv4Addr = "SubnetMask" as ip4,
    }
}

/// RPC_ENUM_L3IF: request (`Name`) and response of `EnumL3If` (vpncmd
/// `RouterIfList`); JSON group `L3IFList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumL3If {
    /// `Name`: the switch.
    pub name: String,
    /// The interfaces.
    pub items: Vec<EnumL3IfItem>,
}

impl RpcMessage for EnumL3If {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let n = r.count("HubName");
        Ok(EnumL3If {
            name: r.name("Name", 0)?,
            items: read_items(&r, n, EnumL3IfItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.str("Name", &self.name);
        o.group("L3IFList", |o| {
            self.items.iter().for_each(|i| i.push_item(o))
        });
    }
}

pack_struct! {
    /// One route item of [`EnumL3Table`].
    pub struct EnumL3TableItem {
        /// `NetworkAddress[]`.
        network_address: std::net::Ipv4Addr = "NetworkAddress" as ip4,
        /// `SubnetMask[]`.
        subnet_mask: std::net::Ipv4Addr = "SubnetMask" as ip4,
        /// `GatewayAddress[]`.
        gateway_address: std::net::Ipv4Addr = "GatewayAddress" as ip4,
        /// `Metric[]`.
        metric: u32 = "Metric" as int,
    }
}

/// RPC_ENUM_L3TABLE: request (`Name`) and response of `EnumL3Table`
/// (vpncmd `RouterTableList`); JSON group `L3Table`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumL3Table {
    /// `Name`: the switch.
    pub name: String,
    /// The routes.
    pub items: Vec<EnumL3TableItem>,
}

impl RpcMessage for EnumL3Table {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let n = r.count("NetworkAddress");
        Ok(EnumL3Table {
            name: r.name("Name", 0)?,
            items: read_items(&r, n, EnumL3TableItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.str("Name", &self.name);
        o.group("L3Table", |o| {
            self.items.iter().for_each(|i| i.push_item(o))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;
    use std::net::Ipv4Addr;

    #[test]
    fn l3_messages_round_trip_with_softether_names() {
        let p = round_trip(&L3If {
            name: "R1".into(),
            hub_name: "HUBA".into(),
            ip_address: Ipv4Addr::new(10, 1, 0, 1),
            subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        });
        assert_eq!(p.get_str_at("HubName", 0), Some("HUBA"));
        round_trip(&L3Table {
            name: "R1".into(),
            network_address: Ipv4Addr::new(172, 16, 0, 0),
            subnet_mask: Ipv4Addr::new(255, 255, 0, 0),
            gateway_address: Ipv4Addr::new(10, 1, 0, 254),
            metric: 5,
        });
        let p = round_trip(&EnumL3Sw {
            items: vec![EnumL3SwItem {
                name: "R1".into(),
                num_interfaces: 2,
                num_tables: 1,
                active: true,
                online: false,
            }],
        });
        assert_eq!(p.get_int_at("NumItem", 0), Some(1));
        let p = round_trip(&EnumL3If {
            name: "R1".into(),
            items: vec![EnumL3IfItem {
                hub_name: "HUBA".into(),
                ip_address: Ipv4Addr::new(10, 1, 0, 1),
                subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
            }],
        });
        assert_eq!(p.get_int_at("NumItem", 0), Some(1));
        round_trip(&EnumL3Table {
            name: "R1".into(),
            items: vec![EnumL3TableItem {
                network_address: Ipv4Addr::new(0, 0, 0, 0),
                subnet_mask: Ipv4Addr::new(0, 0, 0, 0),
                gateway_address: Ipv4Addr::new(10, 2, 0, 254),
                metric: 1,
            }],
        });
    }
}
