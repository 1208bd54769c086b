package app

import (
	"io"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns the controller's logger, writing to w with the level and format of opts.
func NewLogger(opts Options, w io.Writer) (logr.Logger, error) {
	level, err := zapLevel(opts.LogLevel)
	if err != nil {
		return logr.Logger{}, err
	}
	encoder := zap.JSONEncoder()
	if opts.LogFormat == "console" {
		encoder = zap.ConsoleEncoder()
	}
	return zap.New(
		zap.WriteTo(w),
		zap.Level(level),
		zap.StacktraceLevel(zapcore.PanicLevel),
		encoder,
		func(o *zap.Options) { o.TimeEncoder = zapcore.ISO8601TimeEncoder },
	), nil
}

// zapLevel parses a log level: a name, or a verbosity n that enables logr's V(0) to V(n).
func zapLevel(v string) (zapcore.Level, error) {
	switch v {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	n, err := verbosity(v)
	if err != nil {
		return 0, err
	}
	return zapcore.Level(-n), nil
}
