using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>
/// A run killed while its container was starting (kill -9, OOM, a host crash of the CLI) leaves the container's
/// endpoint holding its host ports until a command observes the crash (`ps`, `rm`, prune). Before a run asks for host
/// ports, the containers holding those exact ports are observed: a crashed one is recorded and releases them, so the
/// same `run -p` again works, as it would after Docker's daemon recovered. Only the holders are looked at.
/// </summary>
public static class CrashedPortHolders
{
    public static void Release(System.CommandLine.ParseResult p, string root, IReadOnlyList<string> publish)
    {
        if (publish.Count == 0) return;
        var wanted = PortSpec.ParseAll(publish).Where(m => m.HostPort != 0).Select(m => (m.HostPort, m.Protocol)).ToHashSet();
        var holders = NetworkManager.EndpointsOf(root)
            .Where(e => e.Ports.Any(m => wanted.Contains((m.HostPort, m.Protocol))))
            .Select(e => e.ContainerId).Distinct().ToList();
        if (holders.Count == 0) return;
        var store = new ContainerStore(root);
        var lifecycle = new Lifecycle(store, Globals.Hooks(p));
        foreach (var id in holders)
        {
            try { lifecycle.Observe(store.Find(id)); }
            catch (ContainerException) { /* removed meanwhile, or gone: `network reconcile` sweeps its endpoint */ }
        }
    }
}
