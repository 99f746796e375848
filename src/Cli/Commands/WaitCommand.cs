using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker wait CONTAINER...`: blocks until each has stopped, then prints its exit code.</summary>
public static class WaitCommand
{
    public static Command Create()
    {
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("wait", "Block until one or more containers stop, then print their exit codes") { containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithLazyHooks(p);
            return LifecycleVerbs.ForEach(p.GetValue(containers)!, c => Console.WriteLine(lifecycle.Wait(c)));
        });
        return command;
    }
}
