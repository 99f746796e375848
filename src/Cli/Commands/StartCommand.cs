using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker start [-a] CONTAINER...`</summary>
public static class StartCommand
{
    public static Command Create()
    {
        var attach = new Option<bool>("--attach", "-a") { Description = "Run in the foreground with the container's output (and its exit status)" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("start", "Start one or more stopped containers") { attach, containers };
        command.SetAction(p =>
        {
            var names = p.GetValue(containers)!;
            var lifecycle = LifecycleVerbs.WithHooks(p);
            if (p.GetValue(attach))
            {
                if (names.Length > 1) throw new ContainerException("you cannot start and attach multiple containers at once", 1);
                return lifecycle.StartAttached(names[0]);
            }
            return LifecycleVerbs.ForEach(names, c =>
            {
                lifecycle.Start(c);
                Console.WriteLine(c);
            });
        });
        return command;
    }
}
