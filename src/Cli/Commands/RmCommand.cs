using System.CommandLine;
using MiniDocker.Runtime;

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
            var lifecycle = new Lifecycle(Globals.Containers(p), Globals.Hooks(p));
            int rc = 0;
            foreach (var c in p.GetValue(containers)!)
            {
                try { lifecycle.Remove(c, p.GetValue(force)); Console.WriteLine(c); }
                catch (ContainerException e) { Console.Error.WriteLine($"minidocker: {e.Message}"); rc = 1; }
            }
            return rc;
        });
        return command;
    }
}
