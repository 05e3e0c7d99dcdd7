package io.kagami.journal;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/**
 * Loads RocksDB's native library from one extracted copy per RocksDB jar, instead of the fresh
 * temporary copy {@link RocksDB#loadLibrary()} makes for every process: that copy is deleted only
 * on a clean exit, so every killed site (kill -9, power loss, OOM) left 15 MB in the temp
 * directory. The copy is written under a temporary name and renamed into place, so a half-written
 * library is never loaded; when anything goes wrong the stock loader is used.
 */
final class RocksLibrary {
  private RocksLibrary() {}

  static void load() {
    try {
      String name = Environment.getJniLibraryFileName("rocksdb");
      URL resource = RocksDB.class.getResource("/" + name);
      URL jar = RocksDB.class.getProtectionDomain().getCodeSource().getLocation();
      if (resource != null && jar != null) {
        String jarName = Path.of(jar.toURI()).getFileName().toString().replaceAll("\\.jar$", "");
        Path dir =
            Path.of(
                System.getProperty("java.io.tmpdir"),
                "kagami-" + jarName + "-" + System.getProperty("user.name", "user"));
        // The name RocksDB.loadLibrary(List) looks for in each directory (it says "rocksdbjni").
        Path lib = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
        long size = resource.openConnection().getContentLengthLong();
        if (!Files.isRegularFile(lib) || Files.size(lib) != size) {
          Files.createDirectories(dir);
          Path tmp = Files.createTempFile(dir, name, ".part");
          try (InputStream in = resource.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(
                tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          } finally {
            Files.deleteIfExists(tmp);
          }
        }
        RocksDB.loadLibrary(List.of(dir.toString()));
        return;
      }
    } catch (IOException
        | RuntimeException
        | java.net.URISyntaxException
        | UnsatisfiedLinkError e) {
      System.getLogger(RocksLibrary.class.getName())
          .log(
              System.Logger.Level.DEBUG,
              "shared RocksDB library copy unavailable, using a temporary one: " + e);
    }
    RocksDB.loadLibrary();
  }
}
