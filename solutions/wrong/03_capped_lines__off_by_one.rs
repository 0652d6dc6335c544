// WRONG (boundary) breaks 1: an off-by-one in the cap: take(max) leaves no room for the newline of a max-byte line.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    (&mut *reader).take(max as u64).read_until(b'\n', line)?;
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
