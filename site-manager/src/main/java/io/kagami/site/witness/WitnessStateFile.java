package io.kagami.site.witness;

import io.kagami.failover.witness.WitnessState;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * The built-in witness's durable record of every group's holder, term and release ({@code kagami
 * witness --data-dir DIR}: {@code DIR/witness-leases}), written before a grant is answered (see
 * {@link WitnessState.Durable}).
 *
 * <p>Each save writes the whole record to {@code witness-leases.tmp}, forces it to disk, renames it
 * over {@code witness-leases} (atomic) and forces the directory, so after a crash at any point the
 * file is the old record or the new one, whole. A file that is nevertheless damaged (torn by a disk
 * that lies about flushes, edited by hand, truncated) is refused with a message naming it:
 * forgetting it silently could grant a lease that is still held.
 *
 * <table>
 *   <caption>File layout (UTF-8 text, one item per line)</caption>
 *   <tr><th>line</th><th>content</th></tr>
 *   <tr><td>1</td><td>{@code kagami-witness-leases 1} (format name and version)</td></tr>
 *   <tr><td>2..n-1</td><td>{@code lease GROUP HOLDER TERM held|released}, fields separated by one
 *       space, GROUP and HOLDER URL-encoded</td></tr>
 *   <tr><td>n</td><td>{@code crc32c XXXXXXXX}: CRC-32C (hex) of every byte before this line</td></tr>
 * </table>
 *
 * Not thread-safe: {@link WitnessState} calls {@link #save} under its lock.
 */
public final class WitnessStateFile implements WitnessState.Durable {
  static final String FILE_NAME = "witness-leases";
  private static final String HEADER = "kagami-witness-leases 1";

  private final Path file;
  private final Path tmp;
  private final Path dir;

  public WitnessStateFile(Path dataDir) {
    this.dir = dataDir.toAbsolutePath();
    this.file = dir.resolve(FILE_NAME);
    this.tmp = dir.resolve(FILE_NAME + ".tmp");
  }

  public Path file() {
    return file;
  }

  /**
   * The recorded leases: empty when there is no record yet (a witness's first start). Creates the
   * directory if needed and removes a half-written {@code .tmp} left by a crash.
   *
   * @throws IllegalStateException naming the file, when it cannot be read or is damaged
   */
  public List<WitnessState.Saved> load() {
    try {
      Files.createDirectories(dir);
      Files.deleteIfExists(tmp);
    } catch (IOException e) {
      throw new IllegalStateException(
          "witness data directory " + dir + " is not usable: " + e.getMessage(), e);
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return List.of();
    } catch (IOException e) {
      throw new IllegalStateException(
          "witness state file " + file + " cannot be read: " + e.getMessage(), e);
    }
    try {
      return parse(bytes);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(
          "witness state file "
              + file
              + " is damaged ("
              + e.getMessage()
              + "): refusing to start, because a witness that forgot its leases could grant one still held. Restore it from a backup; only if no site may hold a lease (both sites stopped or fenced), move it away: the witness then starts empty",
          e);
    }
  }

  static List<WitnessState.Saved> parse(byte[] bytes) {
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("not UTF-8 text");
    }
    if (!text.endsWith("\n")) {
      throw new IllegalArgumentException("it does not end with a complete line (torn write?)");
    }
    int lastLine = text.lastIndexOf('\n', text.length() - 2) + 1;
    String trailer = text.substring(lastLine, text.length() - 1);
    if (!trailer.startsWith("crc32c ")) {
      throw new IllegalArgumentException("its last line is not the crc32c checksum (torn write?)");
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, text.substring(0, lastLine).getBytes(StandardCharsets.UTF_8).length);
    String want = String.format(Locale.ROOT, "%08x", crc.getValue());
    if (!trailer.substring(7).equals(want)) {
      throw new IllegalArgumentException(
          "checksum " + trailer.substring(7) + " does not match its content (" + want + ")");
    }
    String[] lines = text.substring(0, lastLine).split("\n", -1);
    if (lines.length < 2 || !lines[0].equals(HEADER)) {
      throw new IllegalArgumentException(
          "line 1 is not \"" + HEADER + "\" (another file, or another format version)");
    }
    List<WitnessState.Saved> out = new ArrayList<>();
    for (int i = 1; i < lines.length - 1; i++) {
      String[] f = lines[i].split(" ", -1);
      if (f.length != 5 || !f[0].equals("lease")) {
        throw new IllegalArgumentException("line " + (i + 1) + " is not a lease record");
      }
      long term;
      try {
        term = Long.parseLong(f[3]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "line " + (i + 1) + ": term " + f[3] + " is not a number");
      }
      if (term < 1 || !(f[4].equals("held") || f[4].equals("released"))) {
        throw new IllegalArgumentException("line " + (i + 1) + ": bad term or state");
      }
      out.add(
          new WitnessState.Saved(
              URLDecoder.decode(f[1], StandardCharsets.UTF_8),
              URLDecoder.decode(f[2], StandardCharsets.UTF_8),
              term,
              f[4].equals("released")));
    }
    return out;
  }

  static byte[] format(List<WitnessState.Saved> leases) {
    StringBuilder b = new StringBuilder(HEADER).append('\n');
    for (WitnessState.Saved l : leases) {
      b.append("lease ")
          .append(URLEncoder.encode(l.group(), StandardCharsets.UTF_8))
          .append(' ')
          .append(URLEncoder.encode(l.holder(), StandardCharsets.UTF_8))
          .append(' ')
          .append(l.term())
          .append(' ')
          .append(l.released() ? "released" : "held")
          .append('\n');
    }
    byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
    CRC32C crc = new CRC32C();
    crc.update(body);
    byte[] trailer =
        ("crc32c " + String.format(Locale.ROOT, "%08x", crc.getValue()) + "\n")
            .getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[body.length + trailer.length];
    System.arraycopy(body, 0, all, 0, body.length);
    System.arraycopy(trailer, 0, all, body.length, trailer.length);
    return all;
  }

  /** Writes the record durably (temp file, force, atomic rename, force the directory). */
  @Override
  public void save(List<WitnessState.Saved> leases) throws IOException {
    byte[] bytes = format(leases);
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "witness state: " + dir + " cannot rename files atomically: " + e.getMessage(), e);
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }
}
