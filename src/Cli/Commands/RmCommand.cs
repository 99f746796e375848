using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker rm [-f] CONTAINER...`</summary>
public static class RmCommand
{
    public static Command Create()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force the removal of a running container (SIGKILL)" };
        var volumes = new Option<bool>("--volumes", "-v") { Description = "Remove anonymous volumes associated with the container" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove one or more containers") { force, volumes, containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithHooks(p);
            var rc = LifecycleVerbs.ForEach(p.GetValue(containers)!, c =>
            {
                var config = p.GetValue(volumes) ? lifecycle.Find(c).Entry.Config : null;
                lifecycle.Remove(c, p.GetValue(force));
                if (config is not null) MiniDocker.Runtime.Volumes.VolumeStore.RemoveAnonymousOf(Globals.Containers(p), config);
                Console.WriteLine(c);
            });
            // An image removed with `image rm -f` kept its content for these containers.
            ImageCommands.RemoveReleasedImages(p);
            return rc;
        });
        return command;
    }
}
