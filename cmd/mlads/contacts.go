package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newContacts(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "contacts check|test",
		Short: "Check the contacts file; send a test message through each channel",
	}
	cmd.PersistentFlags().StringVar(&file, "file", "", "contacts file (default: notify.contacts of the configuration)")
	path := func() (string, error) {
		if file != "" {
			return file, nil
		}
		cfg, _, err := g.load()
		if err != nil {
			return "", err
		}
		if cfg.Notify.Contacts == "" {
			return "", usageError{errors.New("no contacts file: set notify.contacts in the configuration or pass --file")}
		}
		return cfg.Notify.Contacts, nil
	}
	var dryRun string
	check := &cobra.Command{
		Use:   "check [--dry-run ALERTS.jsonl]",
		Short: "Validate the contacts file; with --dry-run, show who would get what, by which channel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path()
			if err != nil {
				return err
			}
			return app.ContactsCheck(app.ContactsCheckOptions{Path: p, DryRun: dryRun, Out: os.Stdout, Getenv: os.LookupEnv})
		},
	}
	check.Flags().StringVar(&dryRun, "dry-run", "", "alerts as JSON lines (from mlads analyze) to route without sending")
	var channel string
	test := &cobra.Command{
		Use:   "test [--channel NAME]",
		Short: "Send a test message through every configured channel and say what each answered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path()
			if err != nil {
				return err
			}
			return app.ContactsTest(cmd.Context(), app.ContactsTestOptions{Path: p, Channel: channel, Out: os.Stdout, Getenv: os.LookupEnv})
		},
	}
	test.Flags().StringVar(&channel, "channel", "", "only this channel: email, sms, slack, or smtp, gateway, twilio, bot, webhook")
	cmd.AddCommand(check, test)
	return cmd
}
