/**
 * The witness's lease rules ({@link io.kagami.failover.witness.WitnessState}: one primary lease per
 * pair, a term bumped by every grant, nothing granted right after a restart) and the request and
 * reply it exchanges with the sites. Pure; the HTTP service and client around it live in the site
 * manager ({@code io.kagami.site.witness}).
 */
package io.kagami.failover.witness;
