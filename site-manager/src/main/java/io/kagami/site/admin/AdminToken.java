package io.kagami.site.admin;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * The secret that a request changing a site (promote, switchover, failback, drills, link cap,
 * maintenance) must carry as {@code Authorization: Bearer <token>}. Reading the site's state
 * needs none, so monitoring and Prometheus work without it.
 *
 * <p>Each site keeps its token in a file (default {@code <dataDir>/admin.token}, created on first
 * start, readable by its owner only). While it runs, the site also <em>publishes</em> a copy under a
 * per-user runtime directory, keyed by its admin port, where the {@code kagami} CLI of the same
 * user on the same machine finds it: operators on the appliance need no option, and a CLI on
 * another machine passes {@code KAGAMI_ADMIN_TOKEN_FILE} (or {@code KAGAMI_ADMIN_TOKEN}). This is
 * the "cookie file" scheme of local daemons (the token never appears on a command line, where
 * other users could read it in the process list).
 */
public final class AdminToken {
  private static final System.Logger LOG = System.getLogger(AdminToken.class.getName());
  /** Shorter operator-supplied tokens are refused: they could be guessed. */
  static final int MIN_LENGTH = 16;
  private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");

  private final byte[] token;

  private AdminToken(String token) {
    this.token = token.getBytes(StandardCharsets.UTF_8);
  }

  /** For tests and for the CLI's explicit token. */
  public static AdminToken of(String token) {
    String t = token.strip();
    if (t.length() < MIN_LENGTH) {
      throw new IllegalArgumentException("an admin token must have at least " + MIN_LENGTH + " characters");
    }
    return new AdminToken(t);
  }

  /**
   * The token in {@code file}; when the file does not exist, a new random one written there first
   * (owner read/write only).
   *
   * @throws IllegalStateException with a message for the operator: unreadable, empty or too short
   */
  public static AdminToken loadOrCreate(Path file) {
    try {
      if (!Files.exists(file)) {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        writeOwnerOnly(file, token);
        LOG.log(Level.INFO, "created the admin token " + file + " (requests that change the site must present it)");
        return new AdminToken(token);
      }
      return read(file);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read or create the admin token " + file + ": " + e.getMessage(), e);
    }
  }

  /** The token in an existing {@code file}. */
  public static AdminToken read(Path file) throws IOException {
    String t = Files.readString(file, StandardCharsets.UTF_8).strip();
    if (t.length() < MIN_LENGTH) {
      throw new IllegalStateException(
          "the admin token " + file + " is " + (t.isEmpty() ? "empty" : "too short") + ": it must hold at least " + MIN_LENGTH + " characters (delete it to have a new one generated)");
    }
    return new AdminToken(t);
  }

  /** True when {@code authorization} (an HTTP {@code Authorization} header, maybe null) carries this token. */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    // Constant time: how much of a guess matched must not show in the answer's timing.
    return MessageDigest.isEqual(token, authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8));
  }

  /** The {@code Authorization} header value that carries this token. */
  public String header() {
    return "Bearer " + new String(token, StandardCharsets.UTF_8);
  }

  /**
   * Where a site with admin port {@code port} publishes its token for local CLIs: {@code
   * $KAGAMI_RUNTIME_DIR}, else {@code $XDG_RUNTIME_DIR/kagami}, else {@code <tmp>/kagami-<user>}.
   */
  public static Path publishedFile(Map<String, String> env, int port) {
    String dir = env.get("KAGAMI_RUNTIME_DIR");
    Path runtime;
    if (dir != null && !dir.isBlank()) {
      runtime = Path.of(dir);
    } else if (env.get("XDG_RUNTIME_DIR") != null && !env.get("XDG_RUNTIME_DIR").isBlank()) {
      runtime = Path.of(env.get("XDG_RUNTIME_DIR"), "kagami");
    } else {
      runtime = Path.of(System.getProperty("java.io.tmpdir"), "kagami-" + System.getProperty("user.name"));
    }
    return runtime.resolve("admin-" + port + ".token");
  }

  /**
   * Publishes the token at {@code file} (see {@link #publishedFile}); false, logged, when the
   * directory is not this user's alone (another user could read or replace what is in it).
   */
  public boolean publish(Path file) {
    try {
      Path dir = file.getParent();
      try {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
      } catch (FileAlreadyExistsException e) {
        // checked below
      }
      if (!ownedByUsAlone(dir)) {
        LOG.log(Level.WARNING, "not publishing the admin token in " + dir + ": the directory must belong to this user alone (mode 700); local CLIs need KAGAMI_ADMIN_TOKEN_FILE");
        return false;
      }
      writeOwnerOnly(file, new String(token, StandardCharsets.UTF_8));
      return true;
    } catch (IOException | UnsupportedOperationException e) {
      LOG.log(Level.WARNING, "could not publish the admin token at " + file + ": " + e.getMessage() + "; local CLIs need KAGAMI_ADMIN_TOKEN_FILE");
      return false;
    }
  }

  /** Removes the published copy at {@code file} if it still holds this token (a newer site may have replaced it). */
  public void unpublish(Path file) {
    try {
      if (Files.isRegularFile(file) && MessageDigest.isEqual(token, Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8))) {
        Files.delete(file);
      }
    } catch (IOException e) {
      LOG.log(Level.DEBUG, "could not remove the published admin token " + file + ": " + e.getMessage());
    }
  }

  /**
   * The token a CLI presents to the site at admin port {@code port}: {@code KAGAMI_ADMIN_TOKEN},
   * else the file {@code KAGAMI_ADMIN_TOKEN_FILE}, else, when the site is on this machine ({@code
   * local}), the copy it published; null when there is none. (A published token is never sent to
   * another machine: its port alone does not say which site it belongs to.)
   *
   * @throws IllegalStateException with a message for the operator when a named token is unusable
   */
  public static AdminToken forClient(Map<String, String> env, int port, boolean local) {
    String token = env.get("KAGAMI_ADMIN_TOKEN");
    if (token != null && !token.isBlank()) {
      try {
        return of(token);
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException("KAGAMI_ADMIN_TOKEN: " + e.getMessage(), e);
      }
    }
    String file = env.get("KAGAMI_ADMIN_TOKEN_FILE");
    if (file != null && !file.isBlank()) {
      try {
        return read(Path.of(file));
      } catch (IOException e) {
        throw new IllegalStateException("KAGAMI_ADMIN_TOKEN_FILE: cannot read " + file + ": " + e.getMessage(), e);
      }
    }
    if (!local) {
      return null;
    }
    Path published = publishedFile(env, port);
    try {
      return Files.isRegularFile(published) && ownedByUsAlone(published.getParent()) ? read(published) : null;
    } catch (IOException | IllegalStateException | UnsupportedOperationException e) {
      return null;
    }
  }

  private static boolean ownedByUsAlone(Path dir) throws IOException {
    return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
        && Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(System.getProperty("user.name"))
        && Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY_DIR);
  }

  /** Writes {@code text} to {@code file} through a temporary file created owner-only, then renamed. */
  private static void writeOwnerOnly(Path file, String text) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".admin-token", ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
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
