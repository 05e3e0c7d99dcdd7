/**
 * Shared secrets carried as {@code Authorization: Bearer} on HTTP requests: a site's admin token
 * and the witness's token. {@link io.kagami.site.auth.BearerToken} keeps one in an owner-only file
 * and compares it in constant time; it never appears in a log line.
 */
package io.kagami.site.auth;
