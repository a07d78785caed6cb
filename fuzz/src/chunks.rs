//! Cutting an input into pieces the fuzzer controls.

/// Splits `data` into consecutive non-empty pieces whose lengths (1…=`max_piece`) follow a
/// small generator seeded by `seed`. Concatenated, the pieces are `data`.
pub fn pieces(data: &[u8], seed: u8, max_piece: usize) -> Vec<&[u8]> {
    let max_piece = max_piece.max(1);
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % max_piece) + 1;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// Splits `data` on `sep` (a byte that never occurs in valid input of the decoder under
/// test), so one fuzz input can carry a sequence of messages.
pub fn records(data: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    data.split(move |&b| b == sep)
}
