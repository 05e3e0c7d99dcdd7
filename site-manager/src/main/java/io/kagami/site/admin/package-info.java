/**
 * The site's admin HTTP API: read-only status, health and metrics for anyone who can reach the
 * port, and the verbs that change a site (promote, switchover, failback, drills, link cap,
 * maintenance) only with the site's bearer token.
 */
package io.kagami.site.admin;
