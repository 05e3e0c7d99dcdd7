/**
 * Site configuration: immutable records built once from YAML, validated in one place, with errors
 * that name the file, the key and what would be accepted.
 */
package io.kagami.site.config;
