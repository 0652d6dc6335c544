// WRONG (boundary) breaks 3, 5: reads first and counts after: with 0 bytes left (an empty file, a complete `.part`) it waits in `read` for bytes that never come.
fn receive(
    reader: &mut impl Read,
    writer: &TcpStream,
    dir: &Path,
    name: &str,
    size: u64,
) -> io::Result<()> {
    let part = part_path(dir, name);
    let mut file = OpenOptions::new().create(true).append(true).open(&part)?;
    // 1. What we have. More than the whole file: a leftover of another file, not a beginning.
    let mut have = file.metadata()?.len();
    if have > size {
        file.set_len(0)?;
        have = 0;
    }
    let mut writer = writer;
    writer.write_all(format!("OFFSET {have}\n").as_bytes())?;

    // 2. Exactly the rest: the sender does not close to say it is done. Every byte is in the
    //    `.part` as soon as it is written, so a cut keeps what arrived for the next attempt.
    let want = size - have;
    let mut copied = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        copied += n as u64;
        if copied >= want {
            break;
        }
    }
    if copied < want {
        return Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("cut after {} of {size} bytes", have + copied),
        ));
    }

    // 3. Complete: only now does the file get its real name.
    file.sync_all()?;
    drop(file);
    fs::rename(&part, dir.join(name))?;
    writer.write_all(format!("DONE {size}\n").as_bytes())
}
