// WRONG (boundary) breaks 2: an off-by-one the other way: take(max + 2) lets a line of max + 1 bytes through when its newline comes with it.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    (&mut *reader)
        .take(max as u64 + 2)
        .read_until(b'\n', line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        Ok(Line::Complete)
    } else if line.is_empty() {
        Ok(Line::End)
    } else if line.len() > max {
        Ok(Line::TooLong)
    } else {
        Ok(Line::Complete)
    }
}
