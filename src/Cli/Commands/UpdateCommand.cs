using System.CommandLine;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker update [OPTIONS] CONTAINER...`: new limits for containers, applied at once to a running one's
/// cgroup and kept in its config (inspect shows them; the next start uses them).</summary>
public static class UpdateCommand
{
    public static Command Create()
    {
        var resources = ResourceOptions.ForUpdate();
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("update", "Update configuration (resource limits) of one or more containers") { containers };
        foreach (var option in resources.All) command.Options.Add(option);
        command.SetAction(p =>
        {
            var request = resources.Request(p);
            if (request.IsEmpty)
                throw new ContainerException("you must provide one or more flags when using this command", 1);
            ResourceLimits.CheckSyntax(request); // a typo changes no container
            var lifecycle = LifecycleVerbs.WithLazyHooks(p);
            var store = Globals.Containers(p);
            var cgroups = CgroupManagers.ForRoot(store.Root);
            return LifecycleVerbs.ForEach(p.GetValue(containers)!, reference =>
            {
                var id = lifecycle.Find(reference).Entry.Config.Id;
                // Under the store's lock the new limits are computed from the stored ones; the running cgroup is
                // changed first, so a refused value (below current usage, say) leaves the config as it was.
                store.UpdateConfig(id, config =>
                {
                    var updated = ResourceLimits.Build(request, config.Resources);
                    ResourceLimits.CheckAvailable(updated);
                    if (lifecycle.StatusOf(new ContainerStore.Entry(config, store.LoadState(id) ?? new ContainerState())) == ContainerStatus.Running) cgroups.Update(id, updated);
                    config.Resources = updated;
                });
                Console.WriteLine(reference);
            });
        });
        return command;
    }
}
