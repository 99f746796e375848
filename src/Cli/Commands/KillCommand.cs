using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker kill [-s SIGNAL] CONTAINER...`</summary>
public static class KillCommand
{
    public static Command Create()
    {
        var signal = new Option<string>("--signal", "-s") { Description = "Signal to send (name or number)", DefaultValueFactory = _ => "KILL" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("kill", "Kill one or more running containers") { signal, containers };
        command.SetAction(p =>
        {
            int number;
            try { number = Signals.Parse(p.GetValue(signal)!); }
            catch (ContainerException e)
            {
                Console.Error.WriteLine($"minidocker: {e.Message}");
                return e.ExitCode;
            }
            var lifecycle = LifecycleVerbs.WithLazyHooks(p);
            return LifecycleVerbs.ForEach(p.GetValue(containers)!, c =>
            {
                lifecycle.Kill(c, number);
                Console.WriteLine(c);
            });
        });
        return command;
    }
}
