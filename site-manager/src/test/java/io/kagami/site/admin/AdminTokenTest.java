package io.kagami.site.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.site.auth.BearerToken;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokenTest {
  @TempDir Path dir;

  @Test
  void aNewSiteGetsARandomTokenReadableByItsOwnerOnlyAndKeepsIt() throws Exception {
    Path file = dir.resolve("data/admin.token");
    BearerToken first = AdminToken.loadOrCreate(file);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    String written = Files.readString(file).strip();
    assertThat(written).hasSizeGreaterThanOrEqualTo(43).matches("[A-Za-z0-9_-]+");
    assertThat(first.accepts("Bearer " + written)).isTrue();
    assertThat(AdminToken.loadOrCreate(file).accepts("Bearer " + written))
        .as("the same token after a restart")
        .isTrue();
    assertThat(AdminToken.loadOrCreate(dir.resolve("other.token")).accepts("Bearer " + written))
        .as("another site's token differs")
        .isFalse();
    try (var files = Files.list(file.getParent())) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .as("no temporary file left")
          .containsExactly("admin.token");
    }
  }

  @Test
  void onlyTheExactTokenAsABearerIsAccepted() {
    BearerToken t = BearerToken.of("0123456789abcdef-token");
    assertThat(t.accepts("Bearer 0123456789abcdef-token")).isTrue();
    assertThat(t.accepts("bearer 0123456789abcdef-token"))
        .as("the scheme is case-insensitive (RFC 9110)")
        .isTrue();
    assertThat(t.accepts(t.header())).isTrue();
    assertThat(t.accepts(null)).isFalse();
    assertThat(t.accepts("0123456789abcdef-token")).as("without the scheme").isFalse();
    assertThat(t.accepts("Basic 0123456789abcdef-token")).isFalse();
    assertThat(t.accepts("Bearer 0123456789abcdef-toke")).as("a prefix").isFalse();
    assertThat(t.accepts("Bearer 0123456789abcdef-tokenX")).isFalse();
    assertThat(t.accepts("Bearer ")).isFalse();
  }

  @Test
  void anOperatorsEmptyOrShortTokenFileIsRefusedWithTheReason() throws Exception {
    Path empty = Files.writeString(dir.resolve("empty.token"), "\n");
    assertThatThrownBy(() -> AdminToken.loadOrCreate(empty))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("empty.token is empty");
    Path shortToken = Files.writeString(dir.resolve("short.token"), "secret\n");
    assertThatThrownBy(() -> AdminToken.loadOrCreate(shortToken))
        .hasMessageContaining("too short")
        .hasMessageContaining("at least 16 characters");
    assertThatThrownBy(() -> BearerToken.of("short")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLocalCliFindsThePublishedTokenOfTheSiteAtThatPortOnly() throws Exception {
    Map<String, String> env = Map.of("KAGAMI_RUNTIME_DIR", dir.resolve("run").toString());
    BearerToken site = AdminToken.loadOrCreate(dir.resolve("admin.token"));
    Path published = AdminToken.publishedFile(env, 9480);

    assertThat(AdminToken.publish(site, published)).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(published.getParent())))
        .isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(published)))
        .isEqualTo("rw-------");
    assertThat(AdminToken.forClient(env, 9480, true).header()).isEqualTo(site.header());
    assertThat(AdminToken.forClient(env, 9481, true)).as("another port: another site").isNull();
    assertThat(AdminToken.forClient(env, 9480, false)).as("never sent to another machine").isNull();

    BearerToken newer = AdminToken.loadOrCreate(dir.resolve("newer.token"));
    AdminToken.publish(newer, published);
    AdminToken.unpublish(site, published);
    assertThat(published).as("a newer site's copy is left alone").exists();
    AdminToken.unpublish(newer, published);
    assertThat(published).doesNotExist();
  }

  @Test
  void aRuntimeDirectoryOthersCanReadIsNotUsed() throws Exception {
    Path run =
        Files.createDirectory(
            dir.resolve("shared"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
    Map<String, String> env = Map.of("KAGAMI_RUNTIME_DIR", run.toString());
    BearerToken site = AdminToken.loadOrCreate(dir.resolve("admin.token"));

    assertThat(AdminToken.publish(site, AdminToken.publishedFile(env, 9480))).isFalse();
    assertThat(AdminToken.publishedFile(env, 9480)).doesNotExist();
    Files.writeString(AdminToken.publishedFile(env, 9480), "planted-by-someone-else-0123456789");
    assertThat(AdminToken.forClient(env, 9480, true))
        .as("a token planted where others can write is not trusted")
        .isNull();
  }

  @Test
  void anExplicitTokenComesFirstAndAnUnusableOneIsAnError() throws Exception {
    Map<String, String> runtime = Map.of("KAGAMI_RUNTIME_DIR", dir.resolve("run").toString());
    AdminToken.publish(
        AdminToken.loadOrCreate(dir.resolve("site.token")),
        AdminToken.publishedFile(runtime, 9480));
    Path operator = Files.writeString(dir.resolve("operator.token"), "operator-token-0123456789\n");

    assertThat(
            AdminToken.forClient(
                    Map.of(
                        "KAGAMI_RUNTIME_DIR",
                        runtime.get("KAGAMI_RUNTIME_DIR"),
                        "KAGAMI_ADMIN_TOKEN_FILE",
                        operator.toString()),
                    9480,
                    true)
                .header())
        .isEqualTo("Bearer operator-token-0123456789");
    assertThat(
            AdminToken.forClient(
                    Map.of(
                        "KAGAMI_ADMIN_TOKEN",
                        "env-token-0123456789",
                        "KAGAMI_ADMIN_TOKEN_FILE",
                        operator.toString()),
                    9480,
                    false)
                .header())
        .isEqualTo("Bearer env-token-0123456789");
    assertThatThrownBy(
            () -> AdminToken.forClient(Map.of("KAGAMI_ADMIN_TOKEN", "short"), 9480, true))
        .hasMessageStartingWith("KAGAMI_ADMIN_TOKEN:");
    assertThatThrownBy(
            () ->
                AdminToken.forClient(
                    Map.of("KAGAMI_ADMIN_TOKEN_FILE", dir.resolve("missing").toString()),
                    9480,
                    true))
        .hasMessageContaining("KAGAMI_ADMIN_TOKEN_FILE: cannot read");
  }
}
