/*
 * ports.c - port helpers for programs and embedders: start a port with one
 * rx and one tx queue, wrap rings as net_ring ports, hot-plug vdevs.
 *
 * Owns: the port configuration bpcon asks for (one queue pair, no offloads,
 * descriptor counts adjusted to the device's limits).
 *
 * Must never: be called from the poll path, or exit the process on error
 * (errors come back as a negative errno and a message).
 */
#include "bpcon_dp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

/* Descriptor counts when the caller passes 0 (before device adjustment). */
#define PORTS_RXD_DEFAULT 1024u
#define PORTS_TXD_DEFAULT 1024u

int
bpc_dp_port_start(uint16_t port_id, struct rte_mempool *pool, uint16_t rxd, uint16_t txd, char *err,
                  size_t err_len)
{
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    uint16_t nb_rxd = rxd != 0 ? rxd : PORTS_RXD_DEFAULT;
    uint16_t nb_txd = txd != 0 ? txd : PORTS_TXD_DEFAULT;
    int socket = rte_eth_dev_socket_id(port_id);
    if (socket < 0) {
        socket = 0;
    }
    int rc = rte_eth_dev_configure(port_id, 1, 1, &conf);
    const char *step = "configure";
    if (rc == 0) {
        step = "adjust descriptors";
        rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
    }
    if (rc == 0) {
        step = "rx queue setup";
        rc = rte_eth_rx_queue_setup(port_id, 0, nb_rxd, (unsigned int)socket, NULL, pool);
    }
    if (rc == 0) {
        step = "tx queue setup";
        rc = rte_eth_tx_queue_setup(port_id, 0, nb_txd, (unsigned int)socket, NULL);
    }
    if (rc == 0) {
        step = "start";
        rc = rte_eth_dev_start(port_id);
    }
    if (rc != 0) {
        snprintf(err, err_len, "port %u: %s failed: %s", port_id, step, rte_strerror(-rc));
        return rc < 0 ? rc : -EIO;
    }
    return 0;
}

void
bpc_dp_port_close(uint16_t port_id)
{
    (void)rte_eth_dev_stop(port_id);
    (void)rte_eth_dev_close(port_id);
}

int
bpc_dp_ring_port(const char *name, struct rte_ring *rx, struct rte_ring *tx, uint16_t *port_id)
{
    struct rte_ring *rxs[1] = {rx};
    struct rte_ring *txs[1] = {tx};
    int rc = rte_eth_from_rings(name, rxs, 1, txs, 1, rte_socket_id());
    if (rc < 0) {
        return -rte_errno;
    }
    *port_id = (uint16_t)rc;
    return 0;
}

int
bpc_dp_vdev_port(const char *name, const char *args, uint16_t *port_id, char *err, size_t err_len)
{
    int rc = rte_vdev_init(name, args);
    if (rc != 0) {
        snprintf(err, err_len, "vdev %s (%s): %s", name, args, rte_strerror(-rc));
        return rc < 0 ? rc : -EIO;
    }
    rc = rte_eth_dev_get_port_by_name(name, port_id);
    if (rc != 0) {
        snprintf(err, err_len, "vdev %s: no port after probe", name);
        return -ENODEV;
    }
    return 0;
}
