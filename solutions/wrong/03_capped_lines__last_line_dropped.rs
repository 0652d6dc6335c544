// WRONG (protocol form) breaks 3: bytes without a newline at the end of the stream are taken for the end: the last line is never answered.
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
    } else if line.len() > max {
        Ok(Line::TooLong)
    } else {
        Ok(Line::End)
    }
}
