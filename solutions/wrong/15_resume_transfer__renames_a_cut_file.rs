// WRONG (protocol form) breaks 0: does not compare what was copied with what was announced: a cut transfer is renamed as if complete.
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
    io::copy(&mut reader.take(want), &mut file)?;

    // 3. Complete: only now does the file get its real name.
    file.sync_all()?;
    drop(file);
    fs::rename(&part, dir.join(name))?;
    writer.write_all(format!("DONE {size}\n").as_bytes())
}
