using System.CommandLine;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Init;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER COMMAND [ARG...]`</summary>
public static class ExecCommand
{
    public static Command Create()
    {
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables (K=V)" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var user = new Option<string?>("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
        var container = new Argument<string>("CONTAINER");
        var commandArgs = new Argument<string[]>("COMMAND") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("exec", "Execute a command in a running container")
        {
            interactive, tty, env, workdir, user, container, commandArgs,
        };
        command.SetAction(p =>
        {
            var (config, process) = LifecycleVerbs.WithLazyHooks(p).OpenRunning(p.GetValue(container)!);
            using (process)
            {
                var request = new ExecRequest(p.GetValue(commandArgs)!, p.GetValue(env) ?? [], p.GetValue(workdir),
                    p.GetValue(user), p.GetValue(tty), p.GetValue(interactive));
                return ContainerExec.Run(config, process, request);
            }
        });
        return command;
    }

    /// <summary>The process exec starts inside the container (see ExecInit); not for users.</summary>
    public static Command CreateInit()
    {
        var command = new Command("exec-init", "Internal: the process exec starts in a container") { Hidden = true };
        command.SetAction(_ => ExecInit.Run());
        return command;
    }
}
