// WRONG (protocol form) breaks 5: takes a read error (a reset, the timeout) for the end of the stream: the error is never reported.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    if (&mut *reader)
        .take(max as u64 + 1)
        .read_until(b'\n', line)
        .is_err()
    {
        return Ok(Line::End);
    }
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
