using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker rm [-f] CONTAINER...`</summary>
public static class RmCommand
{
    public static Command Create()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force the removal of a running container (SIGKILL)" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove one or more containers") { force, containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithHooks(p);
            var rc = LifecycleVerbs.ForEach(p.GetValue(containers)!, c =>
            {
                lifecycle.Remove(c, p.GetValue(force));
                Console.WriteLine(c);
            });
            // An image removed with `image rm -f` kept its content for these containers.
            ImageCommands.RemoveReleasedImages(p);
            return rc;
        });
        return command;
    }
}
