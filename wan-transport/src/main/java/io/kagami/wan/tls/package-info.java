/**
 * Site identities (key and certificate, generated or operator-supplied) and pinned mutual TLS 1.3.
 */
package io.kagami.wan.tls;
