// WRONG (boundary) breaks 3: `>=` for `>`: a last line of exactly max bytes without its newline is refused as too long.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    (&mut *reader)
        .take(max as u64 + 1)
        .read_until(b'\n', line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        Ok(Line::Complete)
    } else if line.is_empty() {
        Ok(Line::End)
    } else if line.len() >= max {
        Ok(Line::TooLong)
    } else {
        Ok(Line::Complete)
    }
}
