/*
 * The pipework README's first scenario in C: two "containers" on bridge br1, 192.168.1.1/24 and
 * 192.168.1.2/24, reaching each other; then everything is undone.
 *
 * It runs in a private sandbox: a "host" namespace and two "container" namespaces made for the
 * demo and deleted at the end, however it ends. As root, against the installed library:
 *
 *   scripts/install-ffi.sh /usr/local && ldconfig
 *   cc -std=c11 examples/c/attach.c $(pkg-config --cflags --libs pipework) -o attach && ./attach
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <unistd.h>

#include <pipework.h>

/* Prints what failed with pipework's message; true when `rc` is a success. */
static int ok(pipework_result rc, const char *what) {
    if (rc == PIPEWORK_RESULT_OK) {
        return 1;
    }
    char message[1024];
    size_t written = 0;
    pipework_last_error(message, sizeof message, &written);
    fprintf(stderr, "%s failed (%u, errno %d): %s\n", what, (unsigned)rc, pipework_result_errno(rc), message);
    return 0;
}

/* Attaches `guest` to br1 with `address` and prints the record of what was made. */
static int attach(const pipework_handle *host, const pipework_namespace *netns, const char *address,
                  pipework_attachment **attachment_out) {
    pipework_guest *guest = NULL;
    pipework_attach_options *options = NULL;
    char json[4096];
    size_t written = 0;
    int done = ok(pipework_guest_from_namespace(netns, &guest), "guest") &&
               ok(pipework_attach_options_new("br1", &options), "options") &&
               ok(pipework_attach_options_add_address(options, address), "address") &&
               ok(pipework_handle_attach(host, guest, options, attachment_out), "attach") &&
               ok(pipework_attachment_to_json(*attachment_out, json, sizeof json, &written), "json");
    if (done) {
        printf("pipework br1 %s: %s\n", address, json);
    }
    pipework_attach_options_free(options);
    pipework_guest_free(guest);
    return done;
}

/* Waits for eth1 inside a container to be up with its address, shows it, then pings the peer. */
static int verify(const pipework_namespace *netns, const char *peer) {
    pipework_handle *handle = NULL;
    pipework_link *eth1 = NULL;
    char mac[18] = "";
    size_t written = 0;
    uint64_t rtt_us = 0;
    int done = ok(pipework_handle_new(netns, &handle), "handle") &&
               ok(pipework_link_wait(handle, "eth1", PIPEWORK_WAIT_CONDITION_ADDRESSED, 5000, &eth1), "wait");
    done = done && ok(pipework_link_mac(eth1, mac, sizeof mac, &written), "mac");
    if (done) {
        printf("eth1: index %u, mac %s, mtu %u, %s\n", pipework_link_index(eth1), mac, pipework_link_mtu(eth1),
               pipework_link_state(eth1) == PIPEWORK_OPER_STATE_UP ? "up" : "not up");
    }
    done = done && ok(pipework_namespace_ping(netns, peer, 5000, &rtt_us), "ping");
    if (done) {
        printf("ping %s: reply in %.3f ms\n", peer, rtt_us / 1000.0);
    }
    pipework_link_free(eth1);
    pipework_handle_free(handle);
    return done;
}

int main(void) {
    char names[3][64];
    pipework_namespace *netns[3] = {NULL, NULL, NULL}; /* the private host, web, db */
    pipework_handle *host = NULL;
    pipework_attachment *web = NULL, *db = NULL;
    const char *labels[3] = {"host", "web", "db"};

    printf("libpipework %s (header %s)\n", pipework_version(), PIPEWORK_VERSION);
    int done = 1;
    for (int i = 0; done && i < 3; i++) {
        snprintf(names[i], sizeof names[i], "pwcdemo%ld-%s", (long)getpid(), labels[i]);
        done = ok(pipework_namespace_create_named(names[i], &netns[i]), "create namespace");
    }
    done = done && ok(pipework_handle_new(netns[0], &host), "host handle") &&
           attach(host, netns[1], "192.168.1.1/24", &web) && attach(host, netns[2], "192.168.1.2/24", &db) &&
           verify(netns[1], "192.168.1.2") && verify(netns[2], "192.168.1.1");

    /* Undo: each detach removes its veth pair; the second one also removes br1, which pipework made. */
    if (web && ok(pipework_attachment_detach(web, host, NULL), "detach web")) {
        printf("detached web\n");
    }
    if (db && ok(pipework_attachment_detach(db, host, NULL), "detach db")) {
        printf("detached db\n");
    }
    pipework_attachment_free(web);
    pipework_attachment_free(db);
    pipework_handle_free(host);
    for (int i = 2; i >= 0; i--) {
        if (netns[i] && ok(pipework_namespace_delete(netns[i]), "delete namespace")) {
            printf("removed namespace %s\n", names[i]);
        }
    }
    printf("attach.c: %s\n", done ? "OK" : "FAILED");
    return done ? 0 : 1;
}
