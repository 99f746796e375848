using System.CommandLine;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>Options every verb understands, and the subsystems a verb needs, built from them.</summary>
public static class Globals
{
    public static readonly Option<string?> Root = new("--root")
    {
        Description = "Directory for all state (default: $MINIDOCKER_ROOT or /var/lib/minidocker)",
        Recursive = true,
    };

    public static readonly Option<bool> Debug = new("--debug", "-D")
    {
        Description = "Print the stack trace of a failure (also MINIDOCKER_DEBUG=1)",
        Recursive = true,
    };

    public static readonly Option<string?> Firewall = new("--firewall")
    {
        Description = "Firewall backend: iptables or nftables (default: $MINIDOCKER_FIREWALL, else detected)",
        Recursive = true,
    };

    public static string StateRoot(ParseResult p)
    {
        string root = p.GetValue(Root) ?? Environment.GetEnvironmentVariable("MINIDOCKER_ROOT") ?? "/var/lib/minidocker";
        return MiniDocker.Linux.StateRoot.Prepare(root);
    }

    public static ContainerStore Containers(ParseResult p) => new(StateRoot(p));

    /// <summary>The backend of the "firewall" line of ROOT/config; on a root's first use the one named by --firewall or
    /// $MINIDOCKER_FIREWALL, else detected, and then remembered there, so a monitor started later (it gets only --root)
    /// picks the same one. Naming another backend for a root that has one is refused.</summary>
    private static IFirewall FirewallOf(ParseResult p, string root)
    {
        // Resolved once per process: Program checks the choice before the verb runs, and the verb builds on it.
        if (_resolved is { } known && known.Root == root)
            return known.Firewall;
        string configFile = Path.Combine(root, "config");
        string? saved = File.Exists(configFile)
            ? File.ReadAllLines(configFile).Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2 && kv[0].Trim() == "firewall")
                .Select(kv => kv[1].Trim()).LastOrDefault()
            : null;
        string? requested = RequestedFirewall(p);
        if (requested is not null and not ("iptables" or "nftables"))
            throw new NetworkException($"unknown firewall backend '{requested}': use iptables or nftables");
        // A root's rules all come from the backend it started with: a command using another one would leave its
        // rules where `network rm` and the monitors (which get only --root) never look.
        if (saved is not null && requested is not null && requested != saved)
            throw new NetworkException($"firewall backend {requested} requested, but state root {root} uses {saved} " +
                $"({configFile}): use another --root, or remove all its networks and that file's firewall line to switch");
        var firewall = Network.Firewalls.Create(saved ?? requested, scope: NetworkStore.ScopeOf(root));
        if (saved is null) File.AppendAllText(configFile, $"firewall={firewall.Name}\n");
        _resolved = (root, firewall);
        return firewall;
    }

    private static (string Root, IFirewall Firewall)? _resolved;

    private static string? RequestedFirewall(ParseResult p) =>
        (p.GetValue(Firewall) ?? Environment.GetEnvironmentVariable("MINIDOCKER_FIREWALL")) is { Length: > 0 } name ? name : null;

    /// <summary>
    /// Checks (and on a root's first use records) a backend named on the command line or in the environment, for
    /// every verb: a detached run or a start hands the network work to a monitor, which must find the same choice.
    /// </summary>
    public static void CheckFirewallChoice(ParseResult p)
    {
        if (RequestedFirewall(p) is not null) _ = FirewallOf(p, StateRoot(p));
    }

    public static NetworkManager Networks(ParseResult p)
    {
        string root = StateRoot(p);
        var firewall = FirewallOf(p, root);
        var containers = Containers(p);
        return new NetworkManager(root, firewall, containers.Exists);
    }

    /// <summary>The hooks `run` wires in at "created, not yet started".</summary>
    public static IReadOnlyList<IContainerHook> Hooks(ParseResult p) => [new NetworkHook(Networks(p))];

    public static Launcher Launcher(ParseResult p) => new(Containers(p), Hooks(p));
}
