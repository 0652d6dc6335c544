// WRONG (resource) breaks 2: reads the whole line first and checks its length after: no cap while it arrives.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    reader.read_until(b'\n', line)?;
    let complete = line.last() == Some(&b'\n');
    if complete {
        line.pop();
    }
    if line.len() > max {
        Ok(Line::TooLong)
    } else if line.is_empty() && !complete {
        Ok(Line::End)
    } else {
        Ok(Line::Complete)
    }
}
