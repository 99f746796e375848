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

    public static readonly Option<string?> Firewall = new("--firewall")
    {
        Description = "Firewall backend: iptables or nftables (default: $MINIDOCKER_FIREWALL, else detected)",
        Recursive = true,
    };

    public static string StateRoot(ParseResult p)
    {
        string root = p.GetValue(Root) ?? Environment.GetEnvironmentVariable("MINIDOCKER_ROOT") ?? "/var/lib/minidocker";
        root = Path.GetFullPath(root);
        Directory.CreateDirectory(root);
        return root;
    }

    public static ContainerStore Containers(ParseResult p) => new(StateRoot(p));

    /// <summary>The backend named by --firewall, $MINIDOCKER_FIREWALL or the "firewall" line of ROOT/config, else
    /// detected. Remembered in ROOT/config on first use, so a monitor started later picks the same one.</summary>
    public static NetworkManager Networks(ParseResult p)
    {
        string root = StateRoot(p);
        string configFile = Path.Combine(root, "config");
        string? saved = File.Exists(configFile)
            ? File.ReadAllLines(configFile).Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2 && kv[0].Trim() == "firewall")
                .Select(kv => kv[1].Trim()).LastOrDefault()
            : null;
        string? choice = p.GetValue(Firewall) ?? Environment.GetEnvironmentVariable("MINIDOCKER_FIREWALL") ?? saved;
        var firewall = Network.Firewalls.Create(string.IsNullOrEmpty(choice) ? null : choice, scope: NetworkStore.ScopeOf(root));
        if (saved is null) File.AppendAllText(configFile, $"firewall={firewall.Name}\n");
        var containers = Path.Combine(root, "containers");
        return new NetworkManager(root, firewall,
            id => Directory.Exists(containers) && Directory.EnumerateDirectories(containers, id + "*").Any());
    }

    /// <summary>The hooks `run` wires in at "created, not yet started".</summary>
    public static IReadOnlyList<IContainerHook> Hooks(ParseResult p) => [new NetworkHook(Networks(p))];

    public static Launcher Launcher(ParseResult p) => new(Containers(p), Hooks(p));
}
