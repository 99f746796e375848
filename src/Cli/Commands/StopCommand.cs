using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker stop [-t SECONDS] CONTAINER...`</summary>
public static class StopCommand
{
    public static Command Create()
    {
        var time = GraceOption();
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("stop", "Stop one or more running containers (SIGTERM, then SIGKILL after a grace period)") { time, containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithHooks(p);
            var grace = TimeSpan.FromSeconds(p.GetValue(time));
            return LifecycleVerbs.ForEach(p.GetValue(containers)!, c =>
            {
                lifecycle.Stop(c, grace);
                Console.WriteLine(c);
            });
        });
        return command;
    }

    /// <summary>Docker's -t/--time (newer: --timeout): seconds between SIGTERM and SIGKILL.</summary>
    public static Option<int> GraceOption() => new("--time", "-t", "--timeout")
    {
        Description = "Seconds to wait before killing the container",
        DefaultValueFactory = _ => 10,
        Validators = { r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("the grace period cannot be negative"); } },
    };
}
