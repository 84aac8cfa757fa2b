//! The virtual Ethernet adapter of OpenVPN `dev tun` clients
//! (rustether_openvpn::l3) driven by arbitrary hub frames and client
//! packets: no panic, bounded output. Frames whose selector byte is odd are
//! patched into a DHCP reply to the adapter's current transaction (IPv4,
//! UDP to port 68, its xid and MAC) so the hand-written reply parser and
//! the bound state are reached.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_openvpn::l3::{L3Adapter, MAX_FRAME, MAX_PENDING_PACKETS};

const MAC: [u8; 6] = [0x5e, 1, 2, 3, 4, 5];

fuzz_target!(|data: &[u8]| {
    let mut a = L3Adapter::new(MAC, "fuzz", 0);
    let mut xid = [0u8; 4];
    let mut now = 0u64;
    let mut rest = data;
    while let Some((&sel, tail)) = rest.split_first() {
        let n = usize::from(sel).saturating_mul(3).min(tail.len());
        let (chunk, r) = tail.split_at(n);
        rest = r;
        let mut frames = 0;
        while let Some(f) = a.poll_frame() {
            frames += 1;
            assert!(f.len() <= MAX_FRAME + 64);
            // The xid of the adapter's latest DHCP message.
            if f.len() > 14 + 28 + 8 && f[12..14] == [8, 0] && f[14 + 9] == 17 {
                xid.copy_from_slice(&f[14 + 28 + 4..14 + 28 + 8]);
            }
        }
        assert!(frames <= 2 * MAX_PENDING_PACKETS + 8, "{frames} frames at once");
        let mut c = chunk.to_vec();
        if sel & 1 == 1 && c.len() >= 14 + 28 + 240 {
            let total = (c.len() - 14).min(0xffff) as u16;
            c[0..6].copy_from_slice(&MAC);
            c[12..14].copy_from_slice(&[8, 0]);
            c[14] = 0x45;
            c[16..18].copy_from_slice(&total.to_be_bytes());
            c[14 + 9] = 17;
            c[14 + 22..14 + 24].copy_from_slice(&[0, 68]);
            c[14 + 28..14 + 31].copy_from_slice(&[2, 1, 6]);
            c[14 + 28 + 4..14 + 28 + 8].copy_from_slice(&xid);
            c[14 + 28 + 28..14 + 28 + 34].copy_from_slice(&MAC);
            c[14 + 28 + 236..14 + 28 + 240].copy_from_slice(&[99, 130, 83, 99]);
        }
        a.handle_frame(&c, now);
        a.send_ip(chunk, now);
        while a.poll_packet().is_some() {}
        now += u64::from(sel) * 37;
        a.handle_timeout(now);
        let _ = a.lease().map(|l| l.push_options());
    }
});
