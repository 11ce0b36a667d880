/*
 * The C API tested from C: every success path checked independently with `ip -j` and `jq`,
 * every error path with its code, errno and message, in private network namespaces.
 *
 * Usage (as root): ffi_test PREFIX
 *   Every namespace it makes is called PREFIX-something and is deleted before it exits.
 *   It ends with "N passed, N failed" and exits non-zero on any failure.
 *
 * Built by scripts/tier-ffi.sh with -std=c11 -Wall -Wextra -Wpedantic -Werror, once with
 * -fsanitize=address,undefined and once plain to run under valgrind.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pipework.h>

static int passed, failed;
static const char *prefix;
static char host_ns[64], web_ns[64], db_ns[64];

/* --- checks ------------------------------------------------------------------------------ */

static void check(int ok, int line, const char *what, const char *detail) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL line %d: %s%s%s\n", line, what, detail ? ": " : "", detail ? detail : "");
    }
}
#define CHECK(cond) check((cond), __LINE__, #cond, NULL)

static const char *last_error(void) {
    static char message[4096];
    size_t written = 0;
    if (pipework_last_error(message, sizeof message, &written) != PIPEWORK_RESULT_OK) {
        return "(pipework_last_error failed)";
    }
    return message;
}

static void expect_ok(pipework_result rc, int line, const char *call) {
    check(rc == PIPEWORK_RESULT_OK, line, call, rc == PIPEWORK_RESULT_OK ? NULL : last_error());
}
#define EXPECT_OK(call) expect_ok((call), __LINE__, #call)

/* The call fails with `code`, errno `err` (unless -1), and a message containing `needle`. */
static void expect_err(pipework_result rc, pipework_result code, int err, const char *needle,
                       int line, const char *call) {
    char detail[4400];
    const char *message = last_error();
    int errno_seen = pipework_result_errno(rc);
    int ok = rc == code && (err < 0 || errno_seen == err) && strstr(message, needle) != NULL;
    snprintf(detail, sizeof detail, "got %u (errno %d) \"%s\", want %u (errno %d) with \"%s\"",
             (unsigned)rc, errno_seen, message, (unsigned)code, err, needle);
    check(ok, line, call, ok ? NULL : detail);
}
#define EXPECT_ERR(call, code, err, needle) expect_err((call), (code), (err), (needle), __LINE__, #call)
#define EXPECT_NULL(call, name) EXPECT_ERR(call, PIPEWORK_RESULT_NULL_PARAMETER, EINVAL, name " is NULL")

/* Runs a shell command (iproute2 and jq, independent of pipework); true when it exits 0. */
__attribute__((format(printf, 1, 2))) static int sh(const char *format, ...) {
    char command[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(command, sizeof command, format, args);
    va_end(args);
    return system(command) == 0;
}
#define SH(...) check(sh(__VA_ARGS__), __LINE__, #__VA_ARGS__, NULL)

/* The attachment as JSON in a malloc'd string (NULL on failure). */
static char *to_json(const pipework_attachment *attachment) {
    size_t needed = 0, written = 0;
    if (pipework_attachment_to_json(attachment, NULL, 0, &needed) != PIPEWORK_RESULT_OK) {
        return NULL;
    }
    char *json = malloc(needed + 1);
    if (json && pipework_attachment_to_json(attachment, json, needed + 1, &written) != PIPEWORK_RESULT_OK) {
        free(json);
        return NULL;
    }
    return json;
}

/* Writes `text` to a file jq can read, and returns its path. */
static const char *json_file(const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/%s.json", prefix);
    FILE *file = fopen(path, "w");
    if (file) {
        fputs(text ? text : "null", file);
        fclose(file);
    }
    return path;
}

static pipework_link *lookup(const pipework_handle *handle, const char *name) {
    pipework_link *link = NULL;
    EXPECT_OK(pipework_link_from_name(handle, name, &link));
    return link;
}

/* --- the sandbox: a private host namespace and two guests ----------------------------------- */

static pipework_namespace *host, *web, *db;
static pipework_handle *host_handle, *web_handle, *db_handle;

static int sandbox_up(void) {
    snprintf(host_ns, sizeof host_ns, "%s-host", prefix);
    snprintf(web_ns, sizeof web_ns, "%s-web", prefix);
    snprintf(db_ns, sizeof db_ns, "%s-db", prefix);
    return pipework_namespace_create_named(host_ns, &host) == PIPEWORK_RESULT_OK &&
           pipework_namespace_create_named(web_ns, &web) == PIPEWORK_RESULT_OK &&
           pipework_namespace_create_named(db_ns, &db) == PIPEWORK_RESULT_OK &&
           pipework_handle_new(host, &host_handle) == PIPEWORK_RESULT_OK &&
           pipework_handle_new(web, &web_handle) == PIPEWORK_RESULT_OK &&
           pipework_handle_new(db, &db_handle) == PIPEWORK_RESULT_OK;
}

static void sandbox_down(void) {
    pipework_handle_free(host_handle);
    pipework_handle_free(web_handle);
    pipework_handle_free(db_handle);
    pipework_namespace **all[] = {&db, &web, &host};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i]) {
            EXPECT_OK(pipework_namespace_delete(*all[i]));
            *all[i] = NULL;
        }
    }
    remove(json_file(NULL));
}

/* --- tests ------------------------------------------------------------------------------- */

static void test_version(void) {
    char numbers[64];
    CHECK(strcmp(pipework_version(), PIPEWORK_VERSION) == 0);
    snprintf(numbers, sizeof numbers, "%d.%d.%d", PIPEWORK_VERSION_MAJOR, PIPEWORK_VERSION_MINOR,
             PIPEWORK_VERSION_PATCH);
    CHECK(strcmp(numbers, PIPEWORK_VERSION) == 0);
}

static void test_free_null_is_a_no_op(void) {
    pipework_namespace_free(NULL);
    pipework_handle_free(NULL);
    pipework_guest_free(NULL);
    pipework_link_free(NULL);
    pipework_attach_options_free(NULL);
    pipework_attachment_free(NULL);
    pipework_dhcp_config_free(NULL);
    pipework_dhcp_lease_free(NULL);
    pipework_tipc_bus_free(NULL);
    pipework_tipc_report_free(NULL);
    pipework_tipc_node_free(NULL);
    pipework_topology_free(NULL);
    pipework_lab_plan_free(NULL);
    passed++;
}

static void test_result_codes_stay_out_of_errno_range(void) {
    /* Linux errno values stay below 4096 (MAX_ERRNO). */
    CHECK(PIPEWORK_RESULT_OK >= 4096 && PIPEWORK_RESULT_PANIC >= 4096 && PIPEWORK_RESULT_KERNEL >= 4096);
    CHECK(pipework_result_errno(PIPEWORK_RESULT_OK) == 0);
}

/* Every pointer argument of every function, NULL in turn; nothing may change on the system. */
static void test_null_arguments(void) {
    char buf[64];
    size_t written = 7;
    uint64_t rtt = 7;
    pipework_namespace *ns = NULL;
    pipework_guest *guest = NULL;
    pipework_link *link = lookup(host_handle, "lo");
    pipework_attach_options *options = NULL;
    pipework_attachment *attachment = NULL;
    EXPECT_OK(pipework_guest_from_namespace(web, &guest));
    EXPECT_OK(pipework_attach_options_new("brnull", &options));

    EXPECT_NULL(pipework_namespace_current(NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_from_pid(1, NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_from_name(NULL, &ns), "name");
    EXPECT_NULL(pipework_namespace_from_name(web_ns, NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_from_path(NULL, &ns), "path");
    EXPECT_NULL(pipework_namespace_from_path("/proc/self/ns/net", NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_create_named(NULL, &ns), "name");
    EXPECT_NULL(pipework_namespace_create_named("pwffi-never", NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_create_anonymous(NULL), "namespace_out");
    EXPECT_NULL(pipework_namespace_delete(NULL), "netns");
    EXPECT_NULL(pipework_namespace_ping(NULL, "127.0.0.1", 100, &rtt), "netns");
    EXPECT_NULL(pipework_namespace_ping(web, NULL, 100, &rtt), "destination");
    EXPECT_NULL(pipework_namespace_ping(web, "127.0.0.1", 100, NULL), "rtt_us_out");
    EXPECT_NULL(pipework_handle_new(NULL, &host_handle), "netns");
    EXPECT_NULL(pipework_handle_new(host, NULL), "handle_out");
    EXPECT_NULL(pipework_guest_resolve(NULL, &guest), "target");
    EXPECT_NULL(pipework_guest_resolve(web_ns, NULL), "guest_out");
    EXPECT_NULL(pipework_guest_from_namespace(NULL, &guest), "netns");
    EXPECT_NULL(pipework_guest_from_namespace(web, NULL), "guest_out");
    EXPECT_NULL(pipework_guest_namespace(NULL, &ns), "guest");
    EXPECT_NULL(pipework_guest_namespace(guest, NULL), "namespace_out");
    EXPECT_NULL(pipework_link_from_name(NULL, "lo", &link), "handle");
    EXPECT_NULL(pipework_link_from_name(host_handle, NULL, &link), "name");
    EXPECT_NULL(pipework_link_from_name(host_handle, "lo", NULL), "link_out");
    EXPECT_NULL(pipework_link_from_index(NULL, 1, &link), "handle");
    EXPECT_NULL(pipework_link_from_index(host_handle, 1, NULL), "link_out");
    EXPECT_NULL(pipework_link_wait(NULL, "lo", PIPEWORK_WAIT_CONDITION_EXISTS, 100, &link), "handle");
    EXPECT_NULL(pipework_link_wait(host_handle, NULL, PIPEWORK_WAIT_CONDITION_EXISTS, 100, &link), "name");
    EXPECT_NULL(pipework_link_wait(host_handle, "lo", PIPEWORK_WAIT_CONDITION_EXISTS, 100, NULL), "link_out");
    CHECK(pipework_link_index(NULL) == 0 && strcmp(last_error(), "link is NULL") == 0);
    CHECK(pipework_link_mtu(NULL) == 0);
    CHECK(pipework_link_state(NULL) == PIPEWORK_OPER_STATE_UNKNOWN);
    EXPECT_NULL(pipework_link_name(NULL, buf, sizeof buf, &written), "link");
    EXPECT_NULL(pipework_link_name(link, NULL, sizeof buf, &written), "buf");
    EXPECT_NULL(pipework_link_name(link, buf, sizeof buf, NULL), "written_out");
    EXPECT_NULL(pipework_link_mac(NULL, buf, sizeof buf, &written), "link");
    EXPECT_NULL(pipework_link_mac(link, buf, sizeof buf, NULL), "written_out");
    EXPECT_NULL(pipework_attach_options_new(NULL, &options), "host");
    EXPECT_NULL(pipework_attach_options_new("br1", NULL), "options_out");
    EXPECT_NULL(pipework_attach_options_set_host(NULL, "br1"), "options");
    EXPECT_NULL(pipework_attach_options_set_host(options, NULL), "host");
    EXPECT_NULL(pipework_attach_options_set_guest_ifname(NULL, "eth1"), "options");
    EXPECT_NULL(pipework_attach_options_set_guest_ifname(options, NULL), "ifname");
    EXPECT_NULL(pipework_attach_options_set_host_ifname(NULL, "veth0"), "options");
    EXPECT_NULL(pipework_attach_options_set_host_ifname(options, NULL), "ifname");
    EXPECT_NULL(pipework_attach_options_add_address(NULL, "10.0.0.2/24"), "options");
    EXPECT_NULL(pipework_attach_options_add_address(options, NULL), "cidr");
    EXPECT_NULL(pipework_attach_options_add_gateway(NULL, "10.0.0.1"), "options");
    EXPECT_NULL(pipework_attach_options_add_gateway(options, NULL), "gateway");
    EXPECT_NULL(pipework_attach_options_set_mac(NULL, "02:00:00:00:00:01"), "options");
    EXPECT_NULL(pipework_attach_options_set_mac(options, NULL), "mac");
    EXPECT_NULL(pipework_attach_options_set_mtu(NULL, 1500), "options");
    EXPECT_NULL(pipework_attach_options_set_vlan(NULL, 100), "options");
    EXPECT_NULL(pipework_attach_options_set_direct_phys(NULL, true), "options");
    EXPECT_NULL(pipework_attach_options_set_macvlan_mode(NULL, "private"), "options");
    EXPECT_NULL(pipework_attach_options_set_macvlan_mode(options, NULL), "mode");
    EXPECT_NULL(pipework_attach_options_set_macvtap(NULL, true), "options");
    EXPECT_NULL(pipework_attach_options_set_ipvlan_mode(NULL, "l2"), "options");
    EXPECT_NULL(pipework_attach_options_set_ipvlan_mode(options, NULL), "mode");
    EXPECT_NULL(pipework_attach_options_set_pkey(NULL, 0x8001), "options");
    EXPECT_NULL(pipework_attach_options_set_dhcp(NULL, "dhcp"), "options");
    EXPECT_NULL(pipework_attach_options_set_dhcp(options, NULL), "client");
    {
        pipework_dhcp_config *config = NULL;
        pipework_dhcp_lease *lease = NULL;
        EXPECT_NULL(pipework_dhcp_config_new(NULL), "config_out");
        EXPECT_OK(pipework_dhcp_config_new(&config));
        EXPECT_NULL(pipework_dhcp_config_set_hostname(NULL, "web"), "config");
        EXPECT_NULL(pipework_dhcp_config_set_hostname(config, NULL), "hostname");
        EXPECT_NULL(pipework_dhcp_config_set_no_hostname(NULL), "config");
        EXPECT_NULL(pipework_dhcp_config_set_timeout(NULL, 1000), "config");
        EXPECT_NULL(pipework_dhcp_config_add_request_option(NULL, "dns"), "config");
        EXPECT_NULL(pipework_dhcp_config_add_request_option(config, NULL), "option");
        EXPECT_NULL(pipework_dhcp_config_set_replace_default_route(NULL, true), "config");
        EXPECT_NULL(pipework_dhcp_config_set_write_resolv_conf(NULL, true), "config");
        EXPECT_NULL(pipework_dhcp_lease_acquire(NULL, "eth1", config, &lease), "guest");
        EXPECT_NULL(pipework_dhcp_lease_acquire(guest, NULL, config, &lease), "ifname");
        EXPECT_NULL(pipework_dhcp_lease_acquire(guest, "eth1", NULL, &lease), "config");
        EXPECT_NULL(pipework_dhcp_lease_acquire(guest, "eth1", config, NULL), "lease_out");
        EXPECT_NULL(pipework_dhcp_lease_address(NULL, buf, sizeof buf, &written), "lease");
        EXPECT_NULL(pipework_dhcp_lease_to_json(NULL, buf, sizeof buf, &written), "lease");
        EXPECT_NULL(pipework_dhcp_lease_release(NULL), "lease");
        CHECK(lease == NULL);
        pipework_dhcp_config_free(config);
    }
    EXPECT_NULL(pipework_attach_options_set_host_shim(NULL, "10.0.0.250/32"), "options");
    EXPECT_NULL(pipework_attach_options_set_host_shim(options, NULL), "cidr");
    EXPECT_NULL(pipework_attach_options_set_announce(NULL, false), "options");
    EXPECT_NULL(pipework_handle_attach(NULL, guest, options, &attachment), "host");
    EXPECT_NULL(pipework_handle_attach(host_handle, NULL, options, &attachment), "guest");
    EXPECT_NULL(pipework_handle_attach(host_handle, guest, NULL, &attachment), "options");
    EXPECT_NULL(pipework_handle_attach(host_handle, guest, options, NULL), "attachment_out");
    EXPECT_NULL(pipework_attachment_detach(NULL, host_handle, NULL), "attachment");
    EXPECT_NULL(pipework_attachment_to_json(NULL, buf, sizeof buf, &written), "attachment");
    EXPECT_NULL(pipework_attachment_from_json(NULL, &attachment), "json");
    EXPECT_NULL(pipework_attachment_from_json("{}", NULL), "attachment_out");

    /* Out parameters were not touched, and the attach without attachment_out made nothing. */
    CHECK(ns == NULL && attachment == NULL && written == 7 && rtt == 7);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"brnull\")' >/dev/null", host_ns);
    /* pipework_last_error reports its own NULLs without replacing the message. */
    CHECK(pipework_last_error(NULL, 8, &written) == PIPEWORK_RESULT_NULL_PARAMETER);
    CHECK(pipework_last_error(buf, sizeof buf, NULL) == PIPEWORK_RESULT_NULL_PARAMETER);
    CHECK(strcmp(last_error(), "attachment_out is NULL") == 0);

    pipework_link_free(link);
    pipework_guest_free(guest);
    pipework_attach_options_free(options);
}

/* Bad input: the right code, errno and message, and nothing changed. */
static void test_bad_input(void) {
    pipework_namespace *ns = NULL;
    pipework_guest *guest = NULL;
    pipework_link *link = NULL;
    pipework_attachment *attachment = NULL;
    pipework_attach_options *options = NULL;
    uint64_t rtt = 7;
    char nosuch[96];

    EXPECT_OK(pipework_attach_options_new("brbad", &options));
    EXPECT_ERR(pipework_attach_options_add_address(options, "10.0.0.2"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid address \"10.0.0.2\": the address needs a prefix length. Maybe you meant 10.0.0.2/24?");
    EXPECT_ERR(pipework_attach_options_add_address(options, "10.0.0.2/33"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "prefix length \"33\" is not a number from 0 to 32");
    EXPECT_ERR(pipework_attach_options_add_address(options, "10.0.300.2/24"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "is not an IPv4 or IPv6 address");
    EXPECT_ERR(pipework_attach_options_add_address(options, "10.0.0.\xff/24"), PIPEWORK_RESULT_INVALID_UTF8,
               EILSEQ, "cidr is not valid UTF-8");
    EXPECT_ERR(pipework_attach_options_add_gateway(options, "10.0.0.1/24"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid gateway \"10.0.0.1/24\": expected an address without a prefix length");
    EXPECT_ERR(pipework_attach_options_set_mac(options, "01:00:5e:00:00:01"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid mac \"01:00:5e:00:00:01\": is a multicast address");
    EXPECT_ERR(pipework_attach_options_set_mac(options, "02:00:00:00:00"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "expected six two-digit hex bytes");
    EXPECT_ERR(pipework_attach_options_set_guest_ifname(options, "averyveryverylongname"),
               PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "invalid guest ifname \"averyveryverylongname\"");
    EXPECT_ERR(pipework_attach_options_set_host_ifname(options, "a/b"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid host ifname \"a/b\": contains '/'");
    EXPECT_ERR(pipework_attach_options_set_host_shim(options, "10.0.0.250"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid host shim \"10.0.0.250\": the address needs a prefix length");
    EXPECT_ERR(pipework_attach_options_set_macvlan_mode(options, "bogus"), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid macvlan mode \"bogus\": expected bridge, private, vepa, passthru or source");
    EXPECT_ERR(pipework_attach_options_set_vlan(options, 0), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid vlan \"0\": a VLAN ID must be from 1 to 4094");
    EXPECT_ERR(pipework_attach_options_set_vlan(options, 4095), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid vlan \"4095\"");
    EXPECT_ERR(pipework_attach_options_set_ipvlan_mode(options, "l4"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid ipvlan mode \"l4\": must be l2, l3 or l3s");
    EXPECT_ERR(pipework_attach_options_set_dhcp(options, "nodhcp"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid dhcp client \"nodhcp\": is not a DHCP word; expected dhcp[:OPTS]");
    EXPECT_ERR(pipework_attach_options_set_dhcp(options, "dhcp:-O nonsense"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid dhcp option \"nonsense\": is not an option the DHCP client knows");
    EXPECT_ERR(pipework_attach_options_set_pkey(options, 0x8000), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid pkey \"0x8000\"");

    /* Errors only the attach can see; it changes nothing. */
    EXPECT_OK(pipework_guest_from_namespace(web, &guest));
    EXPECT_OK(pipework_attach_options_set_mtu(options, 10));
    EXPECT_ERR(pipework_handle_attach(host_handle, guest, options, &attachment), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid mtu \"10\": must be from 68 to 65535");
    EXPECT_OK(pipework_attach_options_set_mtu(options, 1500));
    EXPECT_OK(pipework_attach_options_add_gateway(options, "10.0.0.1"));
    EXPECT_ERR(pipework_handle_attach(host_handle, guest, options, &attachment), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid gateway \"10.0.0.1\": is IPv4 but no IPv4 address is given");
    pipework_attach_options_free(options);

    /* What the host interface is, read in the host namespace at attach. */
    struct {
        const char *host;
        bool direct_phys;
        pipework_result code;
        int err;
        const char *needle;
    } hosts[] = {
        {"br 1", false, PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "invalid host interface \"br 1\": contains ' '"},
        {"a-very-long-bridge", false, PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "is 18 bytes long; Linux allows at most 15"},
        {"lo", false, PIPEWORK_RESULT_CONFLICT, EBUSY, "it is the loopback device; nothing can be attached to it"},
        {"nosuch9", false, PIPEWORK_RESULT_NOT_FOUND, ENOENT, "only br*, ovs* and dummy* names are created when missing"},
        {"brbad", true, PIPEWORK_RESULT_CONFLICT, EBUSY, "--direct-phys moves a physical device"},
        {"mac:01:00:5e:00:00:01", false, PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "invalid mac: host interface"},
    };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        EXPECT_OK(pipework_attach_options_new(hosts[i].host, &options));
        EXPECT_OK(pipework_attach_options_set_direct_phys(options, hosts[i].direct_phys));
        EXPECT_ERR(pipework_handle_attach(host_handle, guest, options, &attachment), hosts[i].code, hosts[i].err,
                   hosts[i].needle);
        pipework_attach_options_free(options);
    }
    EXPECT_OK(pipework_attach_options_new("brbad", &options));
    EXPECT_OK(pipework_attach_options_set_macvtap(options, true));
    EXPECT_ERR(pipework_handle_attach(host_handle, guest, options, &attachment), PIPEWORK_RESULT_CONFLICT,
               EBUSY, "a macvlan mode, macvtap or ipvlan needs a physical parent");
    EXPECT_OK(pipework_attach_options_set_macvtap(options, false));
    EXPECT_OK(pipework_attach_options_add_address(options, "10.0.0.2/24"));
    EXPECT_OK(pipework_attach_options_set_host_shim(options, "10.0.0.250/32"));
    EXPECT_ERR(pipework_handle_attach(host_handle, guest, options, &attachment), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "only a macvlan guest needs a host shim");
    CHECK(attachment == NULL);
    SH("ip -j -n %s link show | jq -e 'map(.ifname) == [\"lo\"]' >/dev/null", host_ns);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"eth1\")' >/dev/null", web_ns);
    pipework_attach_options_free(options);
    pipework_guest_free(guest);
    guest = NULL;

    /* Guests and namespaces that do not exist, or are not what they claim. */
    snprintf(nosuch, sizeof nosuch, "%s-nosuchguest", prefix);
    EXPECT_ERR(pipework_guest_resolve(nosuch, &guest), PIPEWORK_RESULT_NOT_FOUND, ENOENT, "no resolver knows it");
    EXPECT_ERR(pipework_guest_resolve(nosuch, &guest), PIPEWORK_RESULT_NOT_FOUND, ENOENT,
               "in /run/netns does not exist");
    EXPECT_ERR(pipework_guest_resolve("", &guest), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid guest \"\": is empty");
    CHECK(guest == NULL);
    EXPECT_ERR(pipework_namespace_from_pid(0, &ns), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "PID 0 is not a process");
    EXPECT_ERR(pipework_namespace_from_pid(2147483647u, &ns), PIPEWORK_RESULT_NOT_FOUND, ENOENT,
               "process 2147483647 does not exist");
    EXPECT_ERR(pipework_namespace_from_path("/nonexistent/pipework-ns", &ns), PIPEWORK_RESULT_KERNEL, ENOENT,
               "cannot open network namespace /nonexistent/pipework-ns: No such file or directory");
    EXPECT_ERR(pipework_namespace_from_path("/proc/self/status", &ns), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "not a namespace file");
    EXPECT_ERR(pipework_namespace_from_name("a/b", &ns), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid netns name \"a/b\"");
    EXPECT_ERR(pipework_namespace_create_named(web_ns, &ns), PIPEWORK_RESULT_ALREADY_EXISTS, EEXIST,
               "already exists");
    CHECK(ns == NULL);
    /* A namespace opened from a PID is not pipework's to delete; the object is freed anyway. */
    EXPECT_OK(pipework_namespace_from_pid((uint32_t)getpid(), &ns));
    EXPECT_ERR(pipework_namespace_delete(ns), PIPEWORK_RESULT_UNSUPPORTED, EOPNOTSUPP,
               "only named and anonymous namespaces created by pipework can be deleted");
    ns = NULL;

    EXPECT_ERR(pipework_link_from_name(host_handle, "nosuch0", &link), PIPEWORK_RESULT_NOT_FOUND, ENOENT,
               "link nosuch0 in netns");
    EXPECT_ERR(pipework_link_from_index(host_handle, 999999, &link), PIPEWORK_RESULT_NOT_FOUND, ENOENT,
               "link #999999");
    EXPECT_ERR(pipework_link_wait(host_handle, "nosuch0", PIPEWORK_WAIT_CONDITION_EXISTS, 100, &link),
               PIPEWORK_RESULT_KERNEL, ETIMEDOUT, "cannot wait for link nosuch0");
    EXPECT_ERR(pipework_link_wait(host_handle, "lo", 7, 100, &link), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid condition \"7\"");
    CHECK(link == NULL);
    EXPECT_ERR(pipework_namespace_ping(web, "nope", 100, &rtt), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid destination \"nope\"");
    CHECK(rtt == 7);
    EXPECT_ERR(pipework_attachment_from_json("{", &attachment), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid attachment JSON");
    CHECK(attachment == NULL);
    /* The errno belongs to the code the last failure returned. */
    CHECK(pipework_result_errno(PIPEWORK_RESULT_KERNEL) == 0);
}

/* The LAMP scenario, checked with iproute2 and jq; then the failures that need a live attachment. */
static void test_attach_lookup_json_detach(void) {
    pipework_guest *web_guest = NULL, *db_guest = NULL;
    pipework_attach_options *web_options = NULL, *db_options = NULL, *clash = NULL;
    pipework_attachment *web_attachment = NULL, *db_attachment = NULL, *again = NULL, *restored = NULL;
    pipework_namespace *guest_ns = NULL;
    pipework_link *eth1 = NULL, *by_index = NULL;
    char name[16], mac[18], small[4] = "xyz";
    size_t written = 0;
    uint64_t rtt = 0;

    /* A guest found by the default resolver chain (a /run/netns name), one from a namespace. */
    EXPECT_OK(pipework_guest_resolve(web_ns, &web_guest));
    EXPECT_OK(pipework_guest_from_namespace(db, &db_guest));
    EXPECT_OK(pipework_guest_namespace(web_guest, &guest_ns));

    EXPECT_OK(pipework_attach_options_new("brtmp", &web_options));
    EXPECT_OK(pipework_attach_options_set_host(web_options, "br1"));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(web_options, "eth1"));
    EXPECT_OK(pipework_attach_options_set_host_ifname(web_options, "vweb"));
    EXPECT_OK(pipework_attach_options_add_address(web_options, "192.168.1.1/24"));
    EXPECT_OK(pipework_attach_options_add_address(web_options, "2001:db8::1/64"));
    EXPECT_OK(pipework_attach_options_add_gateway(web_options, "192.168.1.254"));
    EXPECT_OK(pipework_attach_options_set_mac(web_options, "02:AA:bb:cc:dd:01"));
    EXPECT_OK(pipework_attach_options_set_mtu(web_options, 1400));
    EXPECT_OK(pipework_handle_attach(host_handle, web_guest, web_options, &web_attachment));

    SH("ip -j -d -n %s link show vweb | jq -e '.[0].master == \"br1\" and .[0].mtu == 1400 and "
       ".[0].linkinfo.info_kind == \"veth\"' >/dev/null", host_ns);
    SH("ip -j -d -n %s link show br1 | jq -e '.[0].linkinfo.info_kind == \"bridge\"' >/dev/null", host_ns);
    SH("ip -j -n %s addr show dev eth1 | jq -e '.[0].mtu == 1400 and .[0].address == \"02:aa:bb:cc:dd:01\" "
       "and ([.[0].addr_info[] | \"\\(.local)/\\(.prefixlen)\"] | contains([\"192.168.1.1/24\", "
       "\"2001:db8::1/64\"]))' >/dev/null", web_ns);
    SH("ip -j -n %s route show default | jq -e '.[0].gateway == \"192.168.1.254\" and .[0].dev == \"eth1\"' "
       ">/dev/null", web_ns);

    /* Link lookup by name and by index, against what iproute2 says. */
    eth1 = lookup(web_handle, "eth1");
    SH("ip -j -n %s link show eth1 | jq -e '.[0].ifindex == %u and .[0].mtu == %u' >/dev/null", web_ns,
       pipework_link_index(eth1), pipework_link_mtu(eth1));
    EXPECT_OK(pipework_link_name(eth1, name, sizeof name, &written));
    CHECK(strcmp(name, "eth1") == 0 && written == 4);
    EXPECT_OK(pipework_link_mac(eth1, mac, sizeof mac, &written));
    CHECK(strcmp(mac, "02:aa:bb:cc:dd:01") == 0 && written == 17);
    EXPECT_ERR(pipework_link_mac(eth1, small, sizeof small, &written), PIPEWORK_RESULT_INSUFFICIENT_SIZE, ERANGE,
               "the buffer of 4 bytes is too small: 18 are needed");
    CHECK(strcmp(small, "xyz") == 0 && written == 17);
    EXPECT_OK(pipework_link_from_index(web_handle, pipework_link_index(eth1), &by_index));
    EXPECT_OK(pipework_link_name(by_index, name, sizeof name, &written));
    CHECK(strcmp(name, "eth1") == 0);
    /* Carrier comes asynchronously: wait for it on the kernel's notifications. */
    pipework_link_free(eth1);
    eth1 = NULL;
    EXPECT_OK(pipework_link_wait(web_handle, "eth1", PIPEWORK_WAIT_CONDITION_ADDRESSED, 5000, &eth1));
    CHECK(pipework_link_state(eth1) == PIPEWORK_OPER_STATE_UP);
    SH("ip -j -n %s link show eth1 | jq -e '.[0].operstate == \"UP\"' >/dev/null", web_ns);

    /* JSON: the size query, the record itself, and a round trip through from_json. */
    char *json = to_json(web_attachment);
    CHECK(json != NULL);
    SH("jq -e '.status == \"created\" and .host_ifname == \"vweb\" and .mtu == 1400 and .bridge_created "
       "and .plan.host == {\"kind\": \"bridge\", \"name\": \"br1\"} and .mac == \"02:aa:bb:cc:dd:01\" and "
       ".guest_ifindex == %u' %s >/dev/null", pipework_link_index(eth1), json_file(json));
    EXPECT_OK(pipework_attachment_from_json(json, &restored));
    char *json_again = to_json(restored);
    CHECK(json && json_again && strcmp(json, json_again) == 0);
    free(json_again);
    free(json);

    /* The same options again: the attachment is found in place. */
    EXPECT_OK(pipework_handle_attach(host_handle, web_guest, web_options, &again));
    json = to_json(again);
    SH("jq -e '.status == \"already_attached\"' %s >/dev/null", json_file(json));
    free(json);

    /* The second container, and traffic both ways. */
    EXPECT_OK(pipework_attach_options_new("br1", &db_options));
    EXPECT_OK(pipework_attach_options_add_address(db_options, "192.168.1.2/24"));
    EXPECT_OK(pipework_attach_options_set_mac(db_options, "U:db"));
    EXPECT_OK(pipework_handle_attach(host_handle, db_guest, db_options, &db_attachment));
    SH("bridge -j -n %s link show | jq -e '[.[] | select(.master == \"br1\")] | length == 2' >/dev/null",
       host_ns);
    EXPECT_OK(pipework_namespace_ping(guest_ns, "192.168.1.2", 5000, &rtt));
    CHECK(rtt > 0);
    EXPECT_OK(pipework_namespace_ping(db, "192.168.1.1", 5000, &rtt));
    SH("ip netns exec %s ping -c 1 -W 2 192.168.1.1 >/dev/null", db_ns);

    /* Failures that need a live attachment. */
    EXPECT_OK(pipework_attach_options_new("br1", &clash));
    EXPECT_OK(pipework_attach_options_add_address(clash, "192.168.1.9/24"));
    EXPECT_ERR(pipework_handle_attach(host_handle, db_guest, clash, &again), PIPEWORK_RESULT_CONFLICT, EBUSY,
               "is already attached to br1");
    EXPECT_OK(pipework_attach_options_set_guest_ifname(clash, "eth2"));
    EXPECT_OK(pipework_attach_options_set_host_ifname(clash, "vweb"));
    EXPECT_ERR(pipework_handle_attach(host_handle, db_guest, clash, &again), PIPEWORK_RESULT_ALREADY_EXISTS,
               EEXIST, "host interface vweb (veth, up) already exists");
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"eth2\")' >/dev/null", db_ns);
    EXPECT_ERR(pipework_attachment_detach(web_attachment, db_handle, NULL), PIPEWORK_RESULT_CONFLICT, EBUSY,
               "the attachment was made in");
    SH("ip -j -n %s link show vweb >/dev/null 2>&1", host_ns);

    /* Detach: web with its guest handle (its default route goes), db from the JSON copy without one. */
    EXPECT_OK(pipework_attachment_detach(web_attachment, host_handle, web_handle));
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"vweb\")' >/dev/null", host_ns);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"eth1\")' >/dev/null", web_ns);
    SH("ip -j -n %s route show default | jq -e 'length == 0' >/dev/null", web_ns);
    json = to_json(db_attachment);
    pipework_attachment_free(restored);
    restored = NULL;
    EXPECT_OK(pipework_attachment_from_json(json, &restored));
    free(json);
    EXPECT_OK(pipework_attachment_detach(restored, host_handle, NULL));
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"eth1\")' >/dev/null", db_ns);
    /* The bridge pipework created went with its last port. */
    SH("ip -j -n %s link show | jq -e 'map(.ifname) == [\"lo\"]' >/dev/null", host_ns);

    pipework_link_free(eth1);
    pipework_link_free(by_index);
    pipework_attachment_free(web_attachment);
    pipework_attachment_free(db_attachment);
    pipework_attachment_free(again);
    pipework_attachment_free(restored);
    pipework_attach_options_free(web_options);
    pipework_attach_options_free(db_options);
    pipework_attach_options_free(clash);
    pipework_namespace_free(guest_ns);
    pipework_guest_free(web_guest);
    pipework_guest_free(db_guest);
}

/* The other host sides: a private-mode macvlan on a "physical" device (a veth made for the test)
 * with a host shim, a macvtap, and a device moved into the guest and given back. */
static void test_macvlan_and_physical(void) {
    pipework_guest *web_guest = NULL, *db_guest = NULL;
    pipework_attach_options *macvlan = NULL, *macvtap = NULL, *tagged = NULL, *physical = NULL;
    pipework_attachment *web_attachment = NULL, *db_attachment = NULL, *tap_attachment = NULL,
                        *vlan_attachment = NULL;

    SH("ip -n %s link add nic0 type veth peer name nic0p && ip -n %s link add nic1 type veth peer name nic1p",
       host_ns, host_ns);
    EXPECT_OK(pipework_guest_from_namespace(web, &web_guest));
    EXPECT_OK(pipework_guest_from_namespace(db, &db_guest));

    EXPECT_OK(pipework_attach_options_new("nic0", &macvlan));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(macvlan, "mv0"));
    EXPECT_OK(pipework_attach_options_add_address(macvlan, "10.9.0.2/24"));
    EXPECT_OK(pipework_attach_options_set_host_shim(macvlan, "10.9.0.250/32"));
    EXPECT_OK(pipework_attach_options_set_announce(macvlan, false));
    EXPECT_OK(pipework_attach_options_set_macvlan_mode(macvlan, "private"));
    EXPECT_OK(pipework_handle_attach(host_handle, web_guest, macvlan, &web_attachment));
    SH("ip -j -d -n %s link show mv0 | jq -e '.[0].linkinfo.info_kind == \"macvlan\" and "
       ".[0].linkinfo.info_data.mode == \"private\"' >/dev/null", web_ns);
    SH("ip -j -n %s addr show | jq -e 'any(.[].addr_info[]; .local == \"10.9.0.250\")' >/dev/null", host_ns);
    SH("ip -j -n %s route show 10.9.0.2 | jq -e 'length == 1' >/dev/null", host_ns);

    EXPECT_OK(pipework_attach_options_new("nic0", &macvtap));
    EXPECT_OK(pipework_attach_options_set_macvtap(macvtap, true));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(macvtap, "tap0"));
    EXPECT_OK(pipework_handle_attach(host_handle, db_guest, macvtap, &tap_attachment));
    SH("ip -j -d -n %s link show tap0 | jq -e '.[0].linkinfo.info_kind == \"macvtap\"' >/dev/null", db_ns);
    EXPECT_OK(pipework_attachment_detach(tap_attachment, host_handle, db_handle));
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"tap0\")' >/dev/null", db_ns);

    /* @VLAN: a sub-interface nic0.5 with a macvlan on it. Where the kernel lacks 802.1Q (this
     * machine's does; the VM tier covers VLANs) the attach must fail and leave nothing behind. */
    EXPECT_OK(pipework_attach_options_new("nic0", &tagged));
    EXPECT_OK(pipework_attach_options_set_vlan(tagged, 5));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(tagged, "vl0"));
    pipework_result rc = pipework_handle_attach(host_handle, web_guest, tagged, &vlan_attachment);
    if (rc == PIPEWORK_RESULT_OK) {
        SH("ip -j -d -n %s link show nic0.5 | jq -e '.[0].linkinfo.info_data.id == 5' >/dev/null", host_ns);
        EXPECT_OK(pipework_attachment_detach(vlan_attachment, host_handle, web_handle));
    } else {
        printf("skip: no VLAN attach on this kernel (%s)\n", last_error());
        CHECK(rc == PIPEWORK_RESULT_UNSUPPORTED || rc == PIPEWORK_RESULT_KERNEL);
    }
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"nic0.5\")' >/dev/null", host_ns);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"vl0\")' >/dev/null", web_ns);

    EXPECT_OK(pipework_attach_options_new("nic1", &physical));
    EXPECT_OK(pipework_attach_options_set_direct_phys(physical, true));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(physical, "eth5"));
    EXPECT_OK(pipework_attach_options_set_mtu(physical, 1300));
    EXPECT_OK(pipework_handle_attach(host_handle, db_guest, physical, &db_attachment));
    SH("ip -j -n %s link show eth5 | jq -e '.[0].mtu == 1300' >/dev/null", db_ns);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"nic1\")' >/dev/null", host_ns);

    EXPECT_OK(pipework_attachment_detach(web_attachment, host_handle, web_handle));
    EXPECT_OK(pipework_attachment_detach(db_attachment, host_handle, db_handle));
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"mv0\")' >/dev/null", web_ns);
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"eth5\")' >/dev/null", db_ns);
    SH("ip -j -n %s addr show | jq -e 'all(.[].addr_info[]; .local != \"10.9.0.250\")' >/dev/null", host_ns);
    SH("ip -j -n %s link show nic1 | jq -e '.[0].mtu == 1500' >/dev/null", host_ns);

    pipework_attachment_free(web_attachment);
    pipework_attachment_free(db_attachment);
    pipework_attachment_free(tap_attachment);
    pipework_attachment_free(vlan_attachment);
    pipework_attach_options_free(tagged);
    pipework_attach_options_free(macvlan);
    pipework_attach_options_free(macvtap);
    pipework_attach_options_free(physical);
    pipework_guest_free(web_guest);
    pipework_guest_free(db_guest);
}

/* DHCP against a real server: dnsmasq in a "LAN" namespace on bridge brlan of the private host. */
static char dhcp_dir[128];

static int dnsmasq_start(const char *lan_ns) {
    snprintf(dhcp_dir, sizeof dhcp_dir, "/tmp/%s-dhcp", prefix);
    return sh("mkdir -p %s && ip netns exec %s dnsmasq --conf-file=/dev/null --port=0 --interface=lan0 "
              "--bind-interfaces --dhcp-authoritative --no-ping --user=root --log-dhcp "
              "--dhcp-leasefile=%s/leases --pid-file=%s/dnsmasq.pid --log-facility=%s/dnsmasq.log "
              "--dhcp-range=10.77.0.10,10.77.0.99,2m && "
              "for i in $(seq 50); do grep -qs 'sockets bound exclusively' %s/dnsmasq.log && exit 0; "
              "sleep 0.1; done; exit 1",
              dhcp_dir, lan_ns, dhcp_dir, dhcp_dir, dhcp_dir, dhcp_dir);
}

static void dnsmasq_stop(void) {
    SH("kill \"$(cat %s/dnsmasq.pid)\" && rm -rf %s", dhcp_dir, dhcp_dir);
}

static void test_dhcp(void) {
    char lan_ns[96], address[32], json[4096];
    pipework_namespace *lan = NULL;
    pipework_guest *lan_guest = NULL, *web_guest = NULL, *db_guest = NULL;
    pipework_attach_options *lan_options = NULL, *web_options = NULL, *db_options = NULL;
    pipework_attachment *lan_attachment = NULL, *web_attachment = NULL, *db_attachment = NULL;
    pipework_dhcp_config *config = NULL;
    pipework_dhcp_lease *lease = NULL;
    size_t written = 0;

    snprintf(lan_ns, sizeof lan_ns, "%s-lan", prefix);
    EXPECT_OK(pipework_namespace_create_named(lan_ns, &lan));
    EXPECT_OK(pipework_guest_from_namespace(lan, &lan_guest));
    EXPECT_OK(pipework_attach_options_new("brlan", &lan_options));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(lan_options, "lan0"));
    EXPECT_OK(pipework_attach_options_add_address(lan_options, "10.77.0.1/24"));
    EXPECT_OK(pipework_handle_attach(host_handle, lan_guest, lan_options, &lan_attachment));
    if (!dnsmasq_start(lan_ns)) {
        check(0, __LINE__, "dnsmasq_start", "dnsmasq did not start (scripts/tier-ffi.sh installs dnsmasq-base)");
        goto out;
    }

    /* A lease for web's dh0, checked against iproute2 and the server's lease file. */
    EXPECT_OK(pipework_guest_from_namespace(web, &web_guest));
    EXPECT_OK(pipework_attach_options_new("brlan", &web_options));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(web_options, "dh0"));
    EXPECT_OK(pipework_handle_attach(host_handle, web_guest, web_options, &web_attachment));
    EXPECT_OK(pipework_dhcp_config_new(&config));
    EXPECT_OK(pipework_dhcp_config_set_hostname(config, "pwffi-web"));
    EXPECT_OK(pipework_dhcp_config_set_timeout(config, 10000));
    EXPECT_OK(pipework_dhcp_lease_acquire(web_guest, "dh0", config, &lease));
    EXPECT_OK(pipework_dhcp_lease_address(lease, address, sizeof address, &written));
    CHECK(strncmp(address, "10.77.0.", 8) == 0 && strstr(address, "/24") != NULL);
    SH("ip -j -n %s addr show dev dh0 | jq -e '[.[0].addr_info[] | select(.family == \"inet\") | "
       "\"\\(.local)/\\(.prefixlen)\"] == [\"%s\"]' >/dev/null", web_ns, address);
    SH("ip -j -n %s route show default | jq -e '.[0].gateway == \"10.77.0.1\"' >/dev/null", web_ns);
    SH("grep -q ' pwffi-web ' %s/leases", dhcp_dir);
    EXPECT_OK(pipework_dhcp_lease_to_json(lease, json, sizeof json, &written));
    SH("jq -e '.server == \"10.77.0.1\" and .hostname == \"pwffi-web\" and .ifname == \"dh0\"' %s >/dev/null",
       json_file(json));
    EXPECT_OK(pipework_dhcp_lease_release(lease));
    lease = NULL;
    SH("ip -j -n %s addr show dev dh0 | jq -e 'all(.[0].addr_info[]; .family != \"inet\")' >/dev/null", web_ns);
    SH("for i in $(seq 30); do grep -qs ' pwffi-web ' %s/leases || exit 0; sleep 0.1; done; exit 1", dhcp_dir);

    /* Failures: an interface that does not exist, a bad setting, a silent network. */
    EXPECT_ERR(pipework_dhcp_lease_acquire(web_guest, "nosuch0", config, &lease), PIPEWORK_RESULT_NOT_FOUND,
               ENOENT, "interface nosuch0");
    EXPECT_ERR(pipework_dhcp_config_set_hostname(config, "bad host"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "invalid hostname \"bad host\"");
    EXPECT_ERR(pipework_dhcp_config_add_request_option(config, "53"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "is part of the DHCP exchange itself");
    EXPECT_OK(pipework_dhcp_config_set_timeout(config, 0));
    EXPECT_ERR(pipework_dhcp_lease_acquire(web_guest, "dh0", config, &lease), PIPEWORK_RESULT_INVALID_ARGUMENT,
               EINVAL, "invalid dhcp timeout");
    EXPECT_OK(pipework_dhcp_config_set_timeout(config, 1000));
    EXPECT_OK(pipework_attach_options_new("brquiet", &db_options));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(db_options, "dq0"));
    EXPECT_OK(pipework_guest_from_namespace(db, &db_guest));
    EXPECT_OK(pipework_handle_attach(host_handle, db_guest, db_options, &db_attachment));
    EXPECT_ERR(pipework_dhcp_lease_acquire(db_guest, "dq0", config, &lease), PIPEWORK_RESULT_TIMEOUT, ETIMEDOUT,
               "no answer within");
    CHECK(lease == NULL);
    SH("ip -j -n %s addr show dev dq0 | jq -e 'all(.[0].addr_info[]; .family != \"inet\")' >/dev/null", db_ns);
    EXPECT_OK(pipework_attachment_detach(db_attachment, host_handle, db_handle));
    pipework_attachment_free(db_attachment);
    pipework_attach_options_free(db_options);

    /* DHCP as part of the attach (pipework br1 db dhcp); detach releases the lease. */
    EXPECT_OK(pipework_attach_options_new("brlan", &db_options));
    EXPECT_OK(pipework_attach_options_set_guest_ifname(db_options, "dh1"));
    EXPECT_OK(pipework_attach_options_set_dhcp(db_options, "dhcp:-x hostname:pwffi-db"));
    EXPECT_OK(pipework_handle_attach(host_handle, db_guest, db_options, &db_attachment));
    SH("ip -j -n %s addr show dev dh1 | jq -e 'any(.[0].addr_info[]; .local | startswith(\"10.77.0.\"))' "
       ">/dev/null", db_ns);
    SH("grep -q ' pwffi-db ' %s/leases", dhcp_dir);
    EXPECT_OK(pipework_attachment_detach(db_attachment, host_handle, db_handle));
    SH("ip -j -n %s link show | jq -e 'all(.ifname != \"dh1\")' >/dev/null", db_ns);
    SH("for i in $(seq 30); do grep -qs ' pwffi-db ' %s/leases || exit 0; sleep 0.1; done; exit 1", dhcp_dir);

    EXPECT_OK(pipework_attachment_detach(web_attachment, host_handle, web_handle));
    dnsmasq_stop();
out:
    if (lan_attachment) {
        EXPECT_OK(pipework_attachment_detach(lan_attachment, host_handle, NULL));
    }
    pipework_dhcp_lease_free(lease);
    pipework_dhcp_config_free(config);
    pipework_attachment_free(lan_attachment);
    pipework_attachment_free(web_attachment);
    pipework_attachment_free(db_attachment);
    pipework_attach_options_free(lan_options);
    pipework_attach_options_free(web_options);
    pipework_attach_options_free(db_options);
    pipework_guest_free(lan_guest);
    pipework_guest_free(web_guest);
    pipework_guest_free(db_guest);
    if (lan) {
        EXPECT_OK(pipework_namespace_delete(lan));
    }
}

/* TIPC: argument checks everywhere; on a kernel without TIPC, the fix in the message. */
static void test_tipc(void) {
    pipework_tipc_bus *bus = NULL;
    pipework_tipc_report *report = NULL;
    pipework_tipc_node *node = NULL;
    pipework_guest *guests[2] = {NULL, NULL};
    char buf[64];
    size_t written = 7;

    EXPECT_NULL(pipework_tipc_bus_new(NULL), "bus_out");
    EXPECT_NULL(pipework_tipc_bus_set_net_id(NULL, 1), "bus");
    EXPECT_NULL(pipework_tipc_bus_set_bearer(NULL, "eth:eth0"), "bus");
    EXPECT_NULL(pipework_tipc_node_open(NULL, &node), "netns");
    EXPECT_NULL(pipework_tipc_node_open(web, NULL), "node_out");
    EXPECT_NULL(pipework_tipc_node_config_to_json(NULL, buf, sizeof buf, &written), "node");
    EXPECT_NULL(pipework_tipc_report_to_json(NULL, buf, sizeof buf, &written), "report");
    CHECK(!pipework_tipc_report_all_links_up(NULL) && strcmp(last_error(), "report is NULL") == 0);
    CHECK(node == NULL && written == 7);

    EXPECT_OK(pipework_tipc_bus_new(&bus));
    EXPECT_NULL(pipework_tipc_bus_set_bearer(bus, NULL), "spec");
    EXPECT_NULL(pipework_tipc_bus_set_identity_template(bus, NULL), "template");
    EXPECT_ERR(pipework_tipc_bus_set_bearer(bus, "ib:mlx0"), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL,
               "expected eth:IFNAME or udp:NAME");
    EXPECT_ERR(pipework_tipc_bus_set_net_id(bus, 0), PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "net id");
    EXPECT_OK(pipework_tipc_bus_set_bearer(bus, "eth:tp0"));
    EXPECT_OK(pipework_tipc_bus_set_net_id(bus, 42));
    EXPECT_OK(pipework_tipc_bus_set_identity_template(bus, "pwffi-{index}"));
    EXPECT_OK(pipework_tipc_bus_set_link_timeout(bus, 2000));

    EXPECT_OK(pipework_guest_from_namespace(web, &guests[0]));
    EXPECT_OK(pipework_guest_from_namespace(db, &guests[1]));
    const pipework_guest *members[2] = {guests[0], guests[1]};
    EXPECT_NULL(pipework_tipc_bus_configure(NULL, members, 2, &report), "bus");
    EXPECT_NULL(pipework_tipc_bus_configure(bus, NULL, 2, &report), "guests");
    EXPECT_NULL(pipework_tipc_bus_configure(bus, members, 2, NULL), "report_out");
    EXPECT_NULL(pipework_tipc_bus_show(bus, NULL, 2, &report), "guests");
    CHECK(report == NULL);

    if (access("/sys/module/tipc", F_OK) == 0) {
        printf("SKIP: test_tipc unsupported case: this kernel has TIPC (the VM tier tests the bus)\n");
    } else {
        EXPECT_ERR(pipework_tipc_bus_configure(bus, members, 2, &report), PIPEWORK_RESULT_UNSUPPORTED,
                   EOPNOTSUPP, "modprobe tipc");
        EXPECT_ERR(pipework_tipc_bus_show(bus, members, 2, &report), PIPEWORK_RESULT_UNSUPPORTED,
                   EOPNOTSUPP, "modprobe tipc");
        EXPECT_ERR(pipework_tipc_node_open(web, &node), PIPEWORK_RESULT_UNSUPPORTED, EOPNOTSUPP,
                   "modprobe tipc");
        CHECK(report == NULL && node == NULL);
    }
    pipework_tipc_report_free(report);
    pipework_tipc_node_free(node);
    pipework_guest_free(guests[0]);
    pipework_guest_free(guests[1]);
    pipework_tipc_bus_free(bus);
}

/* The plan's step count (SIZE_MAX on failure), freeing it. */
static size_t steps_of(pipework_lab_plan *plan, const char *needle) {
    size_t count = SIZE_MAX, written = 0;
    char json[8192];
    if (pipework_lab_plan_count(plan, &count) != PIPEWORK_RESULT_OK ||
        pipework_lab_plan_to_json(plan, json, sizeof json, &written) != PIPEWORK_RESULT_OK ||
        (needle && !strstr(json, needle))) {
        count = SIZE_MAX;
    }
    pipework_lab_plan_free(plan);
    return count;
}

static void test_topology(void) {
    pipework_topology *lab = NULL;
    pipework_lab_plan *plan = NULL;
    char buf[8192], state[128], text[1024];
    size_t written = 7;

    EXPECT_NULL(pipework_topology_from_file(NULL, &lab), "path");
    EXPECT_NULL(pipework_topology_parse("name: x", "t.yml", NULL), "topology_out");
    EXPECT_NULL(pipework_topology_apply(NULL, host_handle, NULL, &plan), "topology");
    EXPECT_NULL(pipework_lab_plan_count(NULL, &written), "plan");
    CHECK(lab == NULL && plan == NULL && written == 7);
    EXPECT_ERR(pipework_topology_parse("name: x\ntopology:\n  nodez: {}\n", "bad.yml", &lab),
               PIPEWORK_RESULT_INVALID_ARGUMENT, EINVAL, "bad.yml");
    EXPECT_ERR(pipework_topology_from_file("/nonexistent/lab.yml", &lab), PIPEWORK_RESULT_NOT_FOUND, ENOENT,
               "/nonexistent/lab.yml");
    CHECK(lab == NULL);

    /* Two namespace nodes and a bridge node in the sandbox's host; its record in a private directory. */
    snprintf(state, sizeof state, "/tmp/%s-labs", prefix);
    snprintf(text, sizeof text,
             "name: %s\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n    br1: {kind: bridge}\n"
             "  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n"
             "      pipework: {endpoints: [{addresses: [10.83.0.1/30]}, {addresses: [10.83.0.2/30]}]}\n"
             "    - endpoints: [\"a:eth2\", \"br1:pa2\"]\n",
             prefix);
    EXPECT_OK(pipework_topology_parse(text, "ffi.clab.yml", &lab));
    EXPECT_OK(pipework_topology_name(lab, buf, sizeof buf, &written));
    CHECK(strcmp(buf, prefix) == 0);
    EXPECT_OK(pipework_topology_netns_name(lab, "a", buf, sizeof buf, &written));
    CHECK(strncmp(buf, "clab-", 5) == 0 && strstr(buf, prefix) && written == strlen(buf));
    EXPECT_ERR(pipework_topology_netns_name(lab, "br1", buf, sizeof buf, &written), PIPEWORK_RESULT_NOT_FOUND,
               ENOENT, "namespace node br1");
    EXPECT_ERR(pipework_topology_status_to_json(lab, host_handle, state, buf, sizeof buf, &written),
               PIPEWORK_RESULT_NOT_FOUND, ENOENT, "no record");

    EXPECT_OK(pipework_topology_plan(lab, host_handle, state, &plan));
    CHECK(steps_of(plan, "\"step\":\"create_namespace\"") == 5);
    SH("! ip netns list | grep -q '^clab-%s-'", prefix);
    EXPECT_OK(pipework_topology_apply(lab, host_handle, state, &plan));
    CHECK(steps_of(plan, "\"step\":\"add_link\"") == 5);
    SH("ip -n clab-%s-b -j addr show eth1 | jq -e '.[0].addr_info | any(.local == \"10.83.0.2\")' >/dev/null",
       prefix);
    SH("ip -n %s -j link show master br1 | jq -e '.[0].ifname == \"pa2\"' >/dev/null", host_ns);
    SH("ip netns exec clab-%s-a ping -c 1 -W 2 10.83.0.2 >/dev/null", prefix);
    EXPECT_OK(pipework_topology_apply(lab, host_handle, state, &plan));
    CHECK(steps_of(plan, NULL) == 0);
    EXPECT_OK(pipework_topology_status_to_json(lab, host_handle, state, buf, sizeof buf, &written));
    CHECK(strstr(buf, "\"present\":true") && !strstr(buf, "\"present\":false"));

    EXPECT_OK(pipework_topology_destroy(lab, host_handle, state, &plan));
    CHECK(steps_of(plan, "\"step\":\"delete_namespace\"") == 5);
    SH("! ip netns list | grep -q '^clab-%s-'", prefix);
    SH("! ip -n %s link show br1 2>/dev/null", host_ns);
    EXPECT_ERR(pipework_topology_status_to_json(lab, host_handle, state, buf, sizeof buf, &written),
               PIPEWORK_RESULT_NOT_FOUND, ENOENT, "no record");
    pipework_topology_free(lab);
    SH("rm -rf %s", state);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PREFIX\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    prefix = argv[1];
    test_version();
    test_free_null_is_a_no_op();
    test_result_codes_stay_out_of_errno_range();
    if (!sandbox_up()) {
        printf("FAIL: cannot build the sandbox: %s\n", last_error());
        sandbox_down();
        return 1;
    }
    test_null_arguments();
    test_bad_input();
    test_attach_lookup_json_detach();
    test_macvlan_and_physical();
    test_dhcp();
    test_tipc();
    test_topology();
    sandbox_down();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
