// WRONG (boundary) breaks 1: pops the newline first and then takes an empty line for the end of the stream: the client is dropped at its first empty line.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    (&mut *reader)
        .take(max as u64 + 1)
        .read_until(b'\n', line)?;
    let had_newline = line.last() == Some(&b'\n');
    if had_newline {
        line.pop();
    }
    if line.is_empty() {
        Ok(Line::End)
    } else if had_newline {
        Ok(Line::Complete)
    } else if line.len() > max {
        Ok(Line::TooLong)
    } else {
        Ok(Line::Complete)
    }
}
