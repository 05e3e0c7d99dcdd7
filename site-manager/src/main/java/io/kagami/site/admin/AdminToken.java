package io.kagami.site.admin;

import io.kagami.site.auth.BearerToken;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * Where a site's admin token (a {@link BearerToken} that a request changing the site must carry:
 * promote, switchover, failback, drills, link cap, maintenance) is kept and found. Reading the
 * site's state needs none, so monitoring and Prometheus work without it.
 *
 * <p>Each site keeps its token in a file (default {@code <dataDir>/admin.token}, created on first
 * start, readable by its owner only). While it runs, the site also <em>publishes</em> a copy under
 * a per-user runtime directory, keyed by its admin port, where the {@code kagami} CLI of the same
 * user on the same machine finds it: operators on the appliance need no option, and a CLI on
 * another machine passes {@code KAGAMI_ADMIN_TOKEN_FILE} (or {@code KAGAMI_ADMIN_TOKEN}). This is
 * the "cookie file" scheme of local daemons (the token never appears on a command line, where other
 * users could read it in the process list).
 */
public final class AdminToken {
  private static final System.Logger LOG = System.getLogger(AdminToken.class.getName());
  private static final Set<PosixFilePermission> OWNER_ONLY_DIR =
      PosixFilePermissions.fromString("rwx------");

  private AdminToken() {}

  /** The site's token in {@code file}, created (and logged) when missing. */
  public static BearerToken loadOrCreate(Path file) {
    return BearerToken.loadOrCreate(
        file,
        () ->
            LOG.log(
                Level.INFO,
                "created the admin token "
                    + file
                    + " (requests that change the site must present it)"));
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
      runtime =
          Path.of(
              System.getProperty("java.io.tmpdir"), "kagami-" + System.getProperty("user.name"));
    }
    return runtime.resolve("admin-" + port + ".token");
  }

  /**
   * Publishes {@code token} at {@code file} (see {@link #publishedFile}); false, logged, when the
   * directory is not this user's alone (another user could read or replace what is in it).
   */
  public static boolean publish(BearerToken token, Path file) {
    try {
      Path dir = file.getParent();
      try {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
      } catch (FileAlreadyExistsException e) {
        // checked below
      }
      if (!ownedByUsAlone(dir)) {
        LOG.log(
            Level.WARNING,
            "not publishing the admin token in "
                + dir
                + ": the directory must belong to this user alone (mode 700); local CLIs need KAGAMI_ADMIN_TOKEN_FILE");
        return false;
      }
      token.writeTo(file);
      return true;
    } catch (IOException | UnsupportedOperationException e) {
      LOG.log(
          Level.WARNING,
          "could not publish the admin token at "
              + file
              + ": "
              + e.getMessage()
              + "; local CLIs need KAGAMI_ADMIN_TOKEN_FILE");
      return false;
    }
  }

  /**
   * Removes the published copy at {@code file} if it still holds {@code token} (a newer site may
   * have replaced it).
   */
  public static void unpublish(BearerToken token, Path file) {
    try {
      if (Files.isRegularFile(file) && token.isIn(file)) {
        Files.delete(file);
      }
    } catch (IOException e) {
      LOG.log(
          Level.DEBUG,
          "could not remove the published admin token " + file + ": " + e.getMessage());
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
  public static BearerToken forClient(Map<String, String> env, int port, boolean local) {
    String token = env.get("KAGAMI_ADMIN_TOKEN");
    if (token != null && !token.isBlank()) {
      try {
        return BearerToken.of(token);
      } catch (IllegalArgumentException e) {
        throw new IllegalStateException("KAGAMI_ADMIN_TOKEN: " + e.getMessage(), e);
      }
    }
    String file = env.get("KAGAMI_ADMIN_TOKEN_FILE");
    if (file != null && !file.isBlank()) {
      try {
        return BearerToken.read(Path.of(file));
      } catch (IOException e) {
        throw new IllegalStateException(
            "KAGAMI_ADMIN_TOKEN_FILE: cannot read " + file + ": " + e.getMessage(), e);
      }
    }
    if (!local) {
      return null;
    }
    Path published = publishedFile(env, port);
    try {
      return Files.isRegularFile(published) && ownedByUsAlone(published.getParent())
          ? BearerToken.read(published)
          : null;
    } catch (IOException | IllegalStateException | UnsupportedOperationException e) {
      return null;
    }
  }

  private static boolean ownedByUsAlone(Path dir) throws IOException {
    return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
        && Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS)
            .getName()
            .equals(System.getProperty("user.name"))
        && Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY_DIR);
  }
}
