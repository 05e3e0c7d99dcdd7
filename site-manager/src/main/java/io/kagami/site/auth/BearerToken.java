package io.kagami.site.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * A shared secret that HTTP requests carry as {@code Authorization: Bearer <token>}: a site's admin
 * token, the witness's token. Kept in a file readable by its owner only; compared in constant time.
 */
public final class BearerToken {
  /** Shorter operator-supplied tokens are refused: they could be guessed. */
  public static final int MIN_LENGTH = 16;

  private final byte[] token;

  private BearerToken(String token) {
    this.token = token.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * {@code token} itself (surrounding whitespace ignored); at least {@value #MIN_LENGTH}
   * characters.
   */
  public static BearerToken of(String token) {
    String t = token.strip();
    if (t.length() < MIN_LENGTH) {
      throw new IllegalArgumentException(
          "a token must have at least " + MIN_LENGTH + " characters");
    }
    return new BearerToken(t);
  }

  /**
   * The token in {@code file}; when the file does not exist, a new random one (32 bytes, base64url)
   * written there first, owner read/write only.
   *
   * @throws IllegalStateException with a message for the operator: unreadable, empty or too short
   */
  public static BearerToken loadOrCreate(Path file) {
    return loadOrCreate(file, () -> {});
  }

  /**
   * {@link #loadOrCreate(Path)}, running {@code created} after writing a new token (to tell the
   * operator).
   */
  public static BearerToken loadOrCreate(Path file, Runnable created) {
    try {
      if (!Files.exists(file)) {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        writeOwnerOnly(file, token);
        created.run();
        return new BearerToken(token);
      }
      return read(file);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot read or create the token " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * The token in an existing {@code file}.
   *
   * @throws IllegalStateException when it is empty or too short
   */
  public static BearerToken read(Path file) throws IOException {
    String t = Files.readString(file, StandardCharsets.UTF_8).strip();
    if (t.length() < MIN_LENGTH) {
      throw new IllegalStateException(
          "the token "
              + file
              + " is "
              + (t.isEmpty() ? "empty" : "too short")
              + ": it must hold at least "
              + MIN_LENGTH
              + " characters (delete it to have a new one generated)");
    }
    return new BearerToken(t);
  }

  /**
   * True when {@code authorization} (an HTTP {@code Authorization} header, maybe null) carries this
   * token.
   */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    // Constant time: how much of a guess matched must not show in the answer's timing.
    return MessageDigest.isEqual(
        token, authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8));
  }

  /** True when {@code file} holds this token. */
  public boolean isIn(Path file) throws IOException {
    return MessageDigest.isEqual(
        token,
        Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8));
  }

  /** The {@code Authorization} header value that carries this token. */
  public String header() {
    return "Bearer " + new String(token, StandardCharsets.UTF_8);
  }

  /** Writes the token to {@code file} (owner read/write only), replacing it atomically. */
  public void writeTo(Path file) throws IOException {
    writeOwnerOnly(file, new String(token, StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "BearerToken[hidden]"; // never in a log line
  }

  private static void writeOwnerOnly(Path file, String text) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp =
        Files.createTempFile(
            dir,
            ".token",
            ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.writeString(tmp, text + "\n", StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
