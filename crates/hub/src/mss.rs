//! TCP MSS clamping on SYN frames (SoftEther `AdjustTcpMssL2`/`L3`,
//! src/Mayaqua/TcpIp.c), used for sessions whose frames travel over UDP
//! acceleration so that a full TCP segment plus the encapsulation fits in
//! one unfragmented datagram (`UdpAccelCalcMss`, src/Cedar/UdpAccel.c).
//!
//! Like SoftEther: only a SYN without RST/PSH/URG, only when the MSS option
//! is the first option, only lowering it; the TCP checksum is recomputed.
//! IPv4 (unfragmented) and IPv6 whose next header is TCP (extension
//! headers are not walked, unlike SoftEther). Never panics.

// One 802.1Q tag (`VlanTypeId` 0x8100) is looked through.
use rustether_proto::inet::{fold, sum, ETHERTYPE_VLAN};

/// Where the TCP segment of a clampable SYN is: `(start, end, pseudo
/// header, its length, the new MSS)`.
type Site = (usize, usize, [u8; 40], usize, u16);

/// Whether [`clamp_tcp_mss`] would change `frame` (read-only; cheap enough
/// to run on every frame).
pub fn needs_mss_clamp(frame: &[u8], mss: u16) -> bool {
    locate(frame, mss).is_some()
}

/// Lowers the MSS option of a TCP SYN in Ethernet `frame` to `mss` (IPv6:
/// `mss - 20`; never below 64). Returns whether the frame was changed.
pub fn clamp_tcp_mss(frame: &mut [u8], mss: u16) -> bool {
    let Some((start, end, pseudo, plen, mss)) = locate(frame, mss) else {
        return false;
    };
    let tcp = &mut frame[start..end];
    tcp[22..24].copy_from_slice(&mss.to_be_bytes());
    tcp[16] = 0;
    tcp[17] = 0;
    let c = !fold(sum(tcp, sum(&pseudo[..plen], 0)));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    true
}

fn locate(frame: &[u8], mss: u16) -> Option<Site> {
    let b = frame.get(12..14)?;
    let mut l3 = 14;
    let mut ethertype = u16::from_be_bytes([b[0], b[1]]);
    if ethertype == ETHERTYPE_VLAN {
        let b = frame.get(16..18)?;
        ethertype = u16::from_be_bytes([b[0], b[1]]);
        l3 = 18;
    }
    let ip = &frame[l3..];
    let mut pseudo = [0u8; 40];
    let (start, end, plen, mss) = match ethertype {
        0x0800 => {
            if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
                return None;
            }
            let frag = u16::from_be_bytes([ip[6], ip[7]]);
            if frag & 0x3fff != 0 {
                return None; // a fragment, or more fragments follow
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ihl < 20 || total < ihl || ip.len() < total {
                return None;
            }
            pseudo[..8].copy_from_slice(&ip[12..20]);
            pseudo[9] = 6;
            pseudo[10..12].copy_from_slice(&((total - ihl) as u16).to_be_bytes());
            (l3 + ihl, l3 + total, 12, mss)
        }
        0x86dd => {
            if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            if ip.len() < 40 + plen {
                return None;
            }
            pseudo[..32].copy_from_slice(&ip[8..40]);
            pseudo[32..36].copy_from_slice(&(plen as u32).to_be_bytes());
            pseudo[39] = 6;
            (l3 + 40, l3 + 40 + plen, 40, mss.saturating_sub(20))
        }
        _ => return None,
    };
    let tcp = &frame[start..end];
    if tcp.len() < 20 {
        return None;
    }
    let hlen = usize::from(tcp[12] >> 4) * 4;
    if hlen < 20 || tcp.len() < hlen {
        return None;
    }
    let flags = tcp[13];
    // SYN, and none of RST (0x04), PSH (0x08), URG (0x20).
    if flags & 0x02 == 0 || flags & (0x04 | 0x08 | 0x20) != 0 {
        return None;
    }
    let mss = mss.max(64);
    if hlen < 24 || tcp[20] != 2 || tcp[21] != 4 {
        return None;
    }
    if u16::from_be_bytes([tcp[22], tcp[23]]) <= mss {
        return None;
    }
    Some((start, end, pseudo, plen, mss))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An Ethernet/IPv4/TCP SYN with MSS 1460 and a valid checksum.
    fn syn_v4(flags: u8, mss: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 24];
        f[12] = 0x08;
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&44u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[192, 168, 0, 1]);
        ip[16..20].copy_from_slice(&[192, 168, 0, 2]);
        let tcp = &mut ip[20..];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
        tcp[12] = 6 << 4;
        tcp[13] = flags;
        tcp[20..24].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&[192, 168, 0, 1, 192, 168, 0, 2]);
        pseudo[9] = 6;
        pseudo[11] = 24;
        let c = !fold(sum(&f[34..], sum(&pseudo, 0)));
        f[34 + 16..34 + 18].copy_from_slice(&c.to_be_bytes());
        f
    }

    fn checksum_ok(f: &[u8]) -> bool {
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&f[26..34]);
        pseudo[9] = 6;
        pseudo[11] = (f.len() - 34) as u8;
        !fold(sum(&f[34..], sum(&pseudo, 0))) == 0
    }

    #[test]
    fn lowers_the_mss_of_a_syn_and_fixes_the_checksum() {
        let mut f = syn_v4(0x02, 1460);
        assert!(checksum_ok(&f));
        assert!(clamp_tcp_mss(&mut f, 1309));
        assert_eq!(&f[34 + 22..34 + 24], &1309u16.to_be_bytes());
        assert!(checksum_ok(&f));
        // SYN-ACK too.
        let mut f = syn_v4(0x12, 1460);
        assert!(clamp_tcp_mss(&mut f, 1309));
        assert!(checksum_ok(&f));
    }

    #[test]
    fn leaves_other_frames_alone() {
        for (flags, mss, limit) in [
            (0x10, 1460, 1309),
            (0x06, 1460, 1309),
            (0x02, 1200, 1309),
            (0x0a, 1460, 1309),
        ] {
            let mut f = syn_v4(flags, mss);
            let before = f.clone();
            assert!(!clamp_tcp_mss(&mut f, limit));
            assert_eq!(f, before);
        }
        let mut short = syn_v4(0x02, 1460);
        short.truncate(50);
        assert!(!clamp_tcp_mss(&mut short, 1309));
    }

    proptest! {
        #[test]
        fn never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..200), mss in any::<u16>()) {
            let would = needs_mss_clamp(&bytes, mss);
            prop_assert_eq!(clamp_tcp_mss(&mut bytes, mss), would);
        }
    }
}
