// WRONG (protocol form) breaks 4: consumes the whole chunk the BufReader holds once it finds a newline: the lines after it in the same write are lost.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    loop {
        let available = reader.fill_buf()?;
        let n = available.len();
        if n == 0 {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Complete
            });
        }
        let newline = available.iter().position(|&b| b == b'\n');
        match newline {
            Some(i) => {
                line.extend_from_slice(&available[..i]);
                reader.consume(n);
                return Ok(if line.len() > max {
                    Line::TooLong
                } else {
                    Line::Complete
                });
            }
            None => {
                line.extend_from_slice(available);
                reader.consume(n);
                if line.len() > max {
                    return Ok(Line::TooLong);
                }
            }
        }
    }
}
