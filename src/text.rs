//! Decimal digits of an integer without the formatter.
//!
//! `write!(s, "{n}")` goes through `core::fmt` (argument tables, padding,
//! a `String` grown by the `Write` impl) for what is a dozen digits. That
//! is nothing once, but a fleet of 100,000 agents names each of them
//! (`agent-N`, for its availability stream) and writes a row of counts
//! for each, and the formatter was a third of setting such a fleet up.
//! These write the same digits directly.

/// The decimal digits of `n`, most significant first, in the tail of
/// `buf` (no sign, no padding; `0` is one digit).
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    // Two digits a division (agent numbers run to five or six digits).
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    let mut n = n;
    while n >= 100 {
        let p = 2 * (n % 100) as usize;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    }
    if n >= 10 {
        let p = 2 * n as usize;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

/// Append the decimal digits of `n` to `out`: the bytes of `n.to_string()`.
pub fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let digits = decimal(n, &mut buf);
    out.push_str(std::str::from_utf8(digits).expect("ASCII digits"));
}

/// Append the decimal digits of `n` to `out` (bytes).
#[inline]
pub fn push_decimal_bytes(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        // Most counts in a large fleet's per-agent rows.
        out.push(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same bytes as the formatter, at every digit count and the edges.
    #[test]
    fn digits_match_the_formatter() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut values = vec![0, 1, 9, 10, 99, 100, u64::MAX, u64::MAX - 1];
        for k in 0..20 {
            let p = 10u64.pow(k);
            values.extend([p - 1, p, p + 1]);
        }
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Spread over all magnitudes, not just 19–20 digit numbers.
            values.push(state >> (state % 64));
        }
        let mut s = String::new();
        for n in values {
            s.clear();
            s.push('x');
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"), "{n}");
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
            let mut bytes = b"x".to_vec();
            push_decimal_bytes(&mut bytes, n);
            assert_eq!(bytes, format!("x{n}").into_bytes());
        }
    }
}
