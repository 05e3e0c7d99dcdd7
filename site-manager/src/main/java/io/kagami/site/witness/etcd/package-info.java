/**
 * The pair's lease in an etcd cluster ({@code failover.witness: {etcd: [...]}}): {@link
 * io.kagami.site.witness.etcd.EtcdWitnessClient} maps renew, claim and release onto an etcd lease
 * and a compare-and-set transaction, behind the same {@code LeaseService} as the built-in witness.
 */
package io.kagami.site.witness.etcd;
