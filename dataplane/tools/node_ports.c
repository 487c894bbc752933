/*
 * node_ports.c - bpcon-node's ports: the port spec of the party's cluster
 * file line turned into ports and links, the mbuf pool, and the ports
 * started.
 *
 * Owns: "vhost-mesh:DIR" (a full mesh of net_vhost/virtio_user links, one
 * port per peer: for each pair the lower id is the reconnecting vhost
 * client, the higher id the virtio_user server that owns the socket path;
 * the party's lock DIR/bpc-ID.lock, held to exit),
 * "port:N" (every peer behind one EAL-created port), which ports are left
 * to process exit (port_exit_only, see node_stop), and the pool's size.
 *
 * Must never: start a port before the pool exists, or be called after the
 * party is up (links are read once, by bpc_dp_party_init).
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

/* This party's lock in the mesh folder, DIR/bpc-ID.lock, held until the
 * process exits (the descriptor is kept open and not inherited): a second
 * bpcon-node started as the same party is refused before it touches a
 * socket. Before, it unlinked the running party's server socket (then
 * waited in virtio_user's accept), so the peer's next reconnect found no
 * one and the link was gone; a store, when there is one, refused the
 * duplicate only after that. */
static int
node_mesh_lock(struct node *n, const char *dir, char *err, size_t err_len)
{
    char path[BPC_DP_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/bpc-%u.lock", dir, (unsigned)n->o.id);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "mesh lock %s: %s", path, strerror(-rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(err, err_len,
                 rc == -EBUSY ? "party %u is already running on mesh %s (%s is locked)"
                              : "party %u: mesh %s: locking %s failed",
                 (unsigned)n->o.id, dir, path);
        (void)close(fd);
        return rc;
    }
    n->mesh_lock_fd = fd; /* released at exit */
    return 0;
}

/* One link per peer over a vhost-user full mesh: for pair (lo, hi) the
 * lower id runs net_vhost as a reconnecting client, the higher id runs
 * virtio_user as the server, on DIR/bpc-LO-HI.sock. A restarted party of
 * either side re-attaches: the vhost client reconnects on its own, and the
 * virtio_user server accepts the new connection. */
static int
node_mesh(struct node *n, const char *dir, char *err, size_t err_len)
{
    uint32_t self = (uint32_t)n->o.id;
    /* A party alone has no link to disturb (and needs no folder). */
    int rc = n->cluster.parties_count > 1 ? node_mesh_lock(n, dir, err, err_len) : 0;
    if (rc != 0) {
        return rc;
    }
    for (uint32_t peer = 0; peer < n->cluster.parties_count; peer++) {
        if (peer == self) {
            continue;
        }
        uint32_t lo = self < peer ? self : peer;
        uint32_t hi = self < peer ? peer : self;
        char name[64];
        char args[BPC_DP_PATH_MAX + 128];
        char sock[BPC_DP_PATH_MAX + 64];
        snprintf(sock, sizeof(sock), "%s/bpc-%u-%u.sock", dir, lo, hi);
        if (self == lo) {
            snprintf(name, sizeof(name), "net_vhost%u", peer);
            snprintf(args, sizeof(args), "iface=%s/bpc-%u-%u.sock,queues=1,client=1", dir, lo, hi);
        } else {
            /* A socket file left by a crashed run of this party would make
             * the server's bind fail: the server owns the path. */
            (void)unlink(sock);
            snprintf(name, sizeof(name), "virtio_user%u", peer);
            snprintf(args, sizeof(args), "path=%s/bpc-%u-%u.sock,queues=1,queue_size=%u,server=1",
                     dir, lo, hi, NODE_DESC);
        }
        if (n->ports_count == BPC_DP_PORTS_MAX) {
            snprintf(err, err_len, "more than %u peers for a full mesh", BPC_DP_PORTS_MAX);
            return -E2BIG;
        }
        uint16_t port = 0;
        rc = bpc_dp_vdev_port(name, args, &port, err, err_len);
        if (rc != 0) {
            /* The server's failed port (a signal interrupted its accept:
             * node_bring_up) leaves the socket it bound: the path is
             * this party's (it holds the mesh lock), no one listens. */
            if (self != lo) {
                (void)unlink(sock);
            }
            return rc;
        }
        n->port_exit_only[n->ports_count] = self != lo; /* virtio_user, server mode */
        n->ports[n->ports_count++] = port;
        struct bpc_dp_link *l = &n->links[n->links_count++];
        l->peer = peer;
        l->port_id = port;
        l->queue_id = 0;
        memcpy(l->mac.addr_bytes, n->cluster.parties[peer].mac, 6);
    }
    /* vhost-user gives the vhost side the virtio_user side's memory (it
     * copies frames into it): every lower id maps this process's DPDK
     * heap. Said at every start, as the docs say it. */
    if (self > 0) {
        fprintf(stderr,
                "bpcon-node: party %u: vhost-mesh: parties 0..%u (the vhost side of their links) "
                "can read and write this process's DPDK memory, its pair keys and engine state "
                "included; a mesh is a test transport on one host, not a boundary between "
                "Byzantine parties\n",
                self, self - 1);
    }
    return 0;
}

/* "port:N": every peer sits behind one port that EAL created (--vdev). */
static int
node_shared_port(struct node *n, const char *spec, char *err, size_t err_len)
{
    uint64_t port = 0;
    if (dp_parse_u64(spec, RTE_MAX_ETHPORTS - 1, &port) != 0 ||
        !rte_eth_dev_is_valid_port((uint16_t)port)) {
        snprintf(err, err_len, "port spec 'port:%s': no such port", spec);
        return -ENODEV;
    }
    n->ports[n->ports_count++] = (uint16_t)port;
    for (uint32_t peer = 0; peer < n->cluster.parties_count; peer++) {
        if (peer == n->o.id) {
            continue;
        }
        struct bpc_dp_link *l = &n->links[n->links_count++];
        l->peer = peer;
        l->port_id = (uint16_t)port;
        l->queue_id = 0;
        memcpy(l->mac.addr_bytes, n->cluster.parties[peer].mac, 6);
    }
    return 0;
}

int
node_ports(struct node *n, char *err, size_t err_len)
{
    const char *spec = n->cluster.parties[n->o.id].port;
    int rc;
    if (strncmp(spec, "vhost-mesh:", 11) == 0) {
        rc = node_mesh(n, spec + 11, err, err_len);
    } else if (strncmp(spec, "port:", 5) == 0) {
        rc = node_shared_port(n, spec + 5, err, err_len);
    } else {
        snprintf(err, err_len, "port spec '%s' unknown to bpcon-node (vhost-mesh:DIR, port:N)",
                 spec);
        return -EINVAL;
    }
    /* With rx workers each port's ring may hold NODE_RX_RING mbufs more. */
    uint32_t per_port = NODE_DESC * 4 + (rte_lcore_count() > 1 ? NODE_RX_RING : 0);
    uint32_t mbufs = n->ports_count * per_port + 8192;
    n->pool = rc == 0 ? rte_pktmbuf_pool_create("bpc_node_pool", mbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id())
                      : NULL;
    if (rc == 0 && n->pool == NULL) {
        snprintf(err, err_len, "mbuf pool of %u: %s", mbufs, rte_strerror(rte_errno));
        rc = -ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < n->ports_count; i++) {
        rc = bpc_dp_port_start(n->ports[i], n->pool, NODE_DESC, NODE_DESC, err, err_len);
    }
    return rc;
}
