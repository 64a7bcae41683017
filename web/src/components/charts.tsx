import { Paper, Title } from '@mantine/core';
import type { ReactElement } from 'react';
import {
  Area,
  AreaChart,
  CartesianGrid,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';

/** A titled card holding one chart that fills its width, 220 px high. */
export function ChartCard({ title, children }: { title: string; children: ReactElement }) {
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h5" mb="sm">
        {title}
      </Title>
      <div style={{ width: '100%', height: 220 }}>
        <ResponsiveContainer>{children}</ResponsiveContainer>
      </div>
    </Paper>
  );
}

/**
 * One series over time in a ChartCard: the points' `label` along the x axis, `dataKey` up the
 * y axis, as a filled area (when `fill` is given) or a line.
 */
export function SeriesChart({
  title,
  points,
  dataKey,
  name,
  stroke,
  fill,
  yAxis = {},
  format,
}: {
  title: string;
  points: { label: string }[];
  dataKey: string;
  name: string;
  stroke: string;
  fill?: string;
  yAxis?: { allowDecimals?: boolean; unit?: string };
  format?: (value: number) => string;
}) {
  const grid = <CartesianGrid strokeDasharray="3 3" />;
  const x = <XAxis dataKey="label" fontSize={12} />;
  const y = <YAxis fontSize={12} {...yAxis} />;
  const tooltip = format ? <Tooltip formatter={(v) => format(Number(v))} /> : <Tooltip />;
  return (
    <ChartCard title={title}>
      {fill ? (
        <AreaChart data={points}>
          {grid}
          {x}
          {y}
          {tooltip}
          <Area
            isAnimationActive={false}
            type="monotone"
            dataKey={dataKey}
            name={name}
            stroke={stroke}
            fill={fill}
          />
        </AreaChart>
      ) : (
        <LineChart data={points}>
          {grid}
          {x}
          {y}
          {tooltip}
          <Line
            isAnimationActive={false}
            type="monotone"
            dataKey={dataKey}
            name={name}
            stroke={stroke}
            dot={false}
          />
        </LineChart>
      )}
    </ChartCard>
  );
}
