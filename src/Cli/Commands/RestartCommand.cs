using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker restart [-t SECONDS] CONTAINER...`</summary>
public static class RestartCommand
{
    public static Command Create()
    {
        var time = StopCommand.GraceOption();
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("restart", "Restart one or more containers") { time, containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithHooks(p);
            var grace = TimeSpan.FromSeconds(p.GetValue(time));
            return LifecycleVerbs.ForEach(p.GetValue(containers)!, c =>
            {
                lifecycle.Restart(c, grace);
                Console.WriteLine(c);
            });
        });
        return command;
    }
}
